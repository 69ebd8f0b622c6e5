"""The hosted build: Read the Docs and the GitHub Pages workflow validate against their schemas
and build the site the way the README's command does."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECK = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) or shutil.which("check-jsonschema")


@pytest.mark.skipif(CHECK is None, reason="check-jsonschema is not installed (pip install -e .[test])")
@pytest.mark.parametrize("schema, path", [
    ("vendor.readthedocs", ".readthedocs.yaml"),
    ("vendor.github-workflows", ".github/workflows/docs.yml"),
])
def test_hosting_files_validate_against_their_schemas(schema, path):
    done = subprocess.run([CHECK, "--builtin-schema", schema, str(ROOT / path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def _torch_pin() -> str:
    return re.search(r"^torch==([\w.]+)$", (ROOT / "constraints.txt").read_text(), re.MULTILINE)[1]


def test_hosted_builds_use_the_pinned_cpu_torch_and_the_same_build():
    rtd = (ROOT / ".readthedocs.yaml").read_text()
    assert f"--index-url https://download.pytorch.org/whl/cpu torch=={_torch_pin()}" in rtd
    assert "-c constraints.txt" in rtd and "fail_on_warning: true" in rtd and "make mathjax datatables" in rtd
    assert "configuration: docs/conf.py" in rtd
    workflow = (ROOT / ".github/workflows/docs.yml").read_text()
    assert "https://download.pytorch.org/whl/cpu" in workflow
    assert "run: make site" in workflow and "path: docs/_build/html" in workflow
    assert "docs/auto_examples" in workflow and "docs/_build/weights" in workflow  # the two caches
