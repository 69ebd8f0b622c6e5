"""A rebuild with nothing changed reads and writes no page (docs/_ext/gdl_sphinx.py, gdl_chapters.py).

Pages drawn from outside their own source (the taxonomy, chapter figures and gallery lists, the
leaderboard) are read again only when what they are drawn from changed; gallery pages are written
again only when their back-link line changed.
"""

import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs" / "_ext"))
pytest.importorskip("sphinx")  # the docs extra
gdl_sphinx = pytest.importorskip("gdl_sphinx")
gdl_chapters = pytest.importorskip("gdl_chapters")


def _tree(root: Path) -> Path:
    for rel, text in {"gdl/model.py": "x = 1\n", "docs/_ext/ext.py": "", "gallery/sec/plot_01_a.py": "",
                      "docs/auto_examples/_results/a.json": '{"fd": 1.0}'}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_the_fingerprint_follows_content_not_file_times(tmp_path):
    root = _tree(tmp_path)
    before = gdl_sphinx.inputs_fingerprint(root)
    os.utime(root / "gdl/model.py", (1, 1))  # touched, as a checkout does
    assert gdl_sphinx.inputs_fingerprint(root) == before
    for rel in ("gdl/model.py", "docs/auto_examples/_results/a.json", "gallery/sec/plot_01_a.py"):
        path = root / rel
        text = path.read_text()
        path.write_text(text + " ")
        assert gdl_sphinx.inputs_fingerprint(root) != before, rel
        path.write_text(text)
    (root / "docs/auto_examples/sec").mkdir()
    (root / "docs/auto_examples/sec/plot_01_a.codeobj.json").write_text("{}")  # a by-product, late
    assert gdl_sphinx.inputs_fingerprint(root) == before
    (root / "docs/auto_examples/_results/b.json").write_text("{}")  # a new result
    assert gdl_sphinx.inputs_fingerprint(root) != before


def test_drawn_pages_are_read_again_only_when_their_inputs_change(tmp_path, monkeypatch):
    root = _tree(tmp_path)
    monkeypatch.setattr(gdl_sphinx, "DOCS", root / "docs")
    env = SimpleNamespace(gdl_dynamic_docs={"leaderboard", "taxonomy", "gone"})
    assert gdl_sphinx._outdated(None, env, set(), set(), {"gone"}) == ["leaderboard", "taxonomy"]
    assert gdl_sphinx._outdated(None, env, set(), set(), set()) == []  # nothing changed
    (root / "docs/auto_examples/_results/a.json").write_text('{"fd": 2.0}')  # a script ran again
    assert gdl_sphinx._outdated(None, env, set(), set(), set()) == ["gone", "leaderboard", "taxonomy"]
    assert gdl_sphinx._outdated(None, env, set(), set(), set()) == []


class _Title:
    def __init__(self, text):
        self.text = text

    def astext(self):
        return self.text


def test_gallery_pages_are_written_again_only_when_their_back_links_change():
    env = SimpleNamespace(
        titles={"chapters/04-gan": _Title("4. GANs"), "chapters/10-advanced-gans": _Title("10. Advanced GANs")},
        gdl_example_chapters={"ex/dcgan": ["chapters/04-gan"], "ex/progan": ["chapters/10-advanced-gans"]},
        gdl_leaderboard_anchors={"ex/dcgan": ("leaderboard", "row-dcgan")},
    )
    assert gdl_chapters._rewrite(None, env) == ["ex/dcgan", "ex/progan"]  # never written with links yet
    assert gdl_chapters._rewrite(None, env) == []  # nothing changed: no page written again
    env.titles["chapters/10-advanced-gans"] = _Title("10. Advanced GANs and VQ-GAN")
    assert gdl_chapters._rewrite(None, env) == ["ex/progan"]
    env.gdl_leaderboard_anchors["ex/progan"] = ("leaderboard", "row-progan")
    env.gdl_example_chapters["ex/dcgan"].append("chapters/10-advanced-gans")
    assert gdl_chapters._rewrite(None, env) == ["ex/dcgan", "ex/progan"]


def test_a_parallel_read_gathers_the_drawn_pages_of_every_worker(tmp_path, monkeypatch):
    # With -j, pages are read in worker processes; without the merge, the main environment would
    # not know the drawn pages they found, and a change of the package would not re-read them.
    root = _tree(tmp_path)
    monkeypatch.setattr(gdl_sphinx, "DOCS", root / "docs")
    env = SimpleNamespace(gdl_dynamic_docs={"taxonomy"})
    gdl_sphinx._merge(None, env, {"leaderboard"}, SimpleNamespace(gdl_dynamic_docs={"leaderboard"}))
    gdl_sphinx._merge(None, env, {"index"}, SimpleNamespace())  # a worker that found none
    assert env.gdl_dynamic_docs == {"taxonomy", "leaderboard"}
    fresh = SimpleNamespace()
    gdl_sphinx._merge(None, fresh, {"chapters/10"}, SimpleNamespace(gdl_dynamic_docs={"chapters/10"}))
    gdl_sphinx._outdated(None, fresh, set(), set(), set())  # stores the fingerprint
    (root / "gdl/model.py").write_text("x = 2\n")
    assert gdl_sphinx._outdated(None, fresh, set(), set(), set()) == ["chapters/10"]
