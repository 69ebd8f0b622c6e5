"""The docs build keeps every reference linked: nitpicky, with an ignore list kept short."""

import ast
from pathlib import Path

CONF = Path(__file__).resolve().parent.parent / "docs" / "conf.py"


def _assignments():
    tree = ast.parse(CONF.read_text())
    return {t.id: n.value for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}


def test_the_build_is_nitpicky():
    values = _assignments()
    assert "nitpicky" in values and ast.literal_eval(values["nitpicky"]) is True


def test_the_ignore_list_is_short():
    values = _assignments()
    ignored = [e for name in ("nitpick_ignore", "nitpick_ignore_regex") if name in values
               for e in values[name].elts]
    assert len(ignored) <= 5, "fix the references rather than ignoring them"
