"""Each gallery page's thumbnail shows what its model drew, not a training curve.

A script whose model samples (it calls ``.sample(`` or records samples) names the figure of its
thumbnail with ``# sphinx_gallery_thumbnail_number = N``; the N-th figure the script makes must
be the one that shows the samples. Figures are counted as sphinx-gallery counts them, in the
order the script creates them: a statement that makes a figure (``plt.subplots``,
``plt.figure``, or a :mod:`gdl.plot` helper called without ``ax=``).
"""

import re
from pathlib import Path

import pytest

GALLERY = Path(__file__).resolve().parent.parent / "gallery"
SCRIPTS = sorted(GALLERY.glob("*/plot_*.py"))
THUMB = re.compile(r"^# sphinx_gallery_thumbnail_number = (\d+)", re.MULTILINE)
#: Scripts whose models draw no image or point samples (text), or that train no model.
NO_IMAGE_SAMPLES = {"plot_05_lstm_text.py", "plot_06_gpt.py", "plot_01_datasets.py", "plot_01_sample_quality.py"}


def figures(source: str) -> list[str]:
    """The statements that create a figure, in order, each with the lines up to the next one."""
    lines = source.splitlines()
    starts = []
    for i, line in enumerate(lines):
        if line.lstrip().startswith("#") or line.startswith((" ", "\t")) and "def " in line:
            continue
        makes = re.search(r"plt\.(subplots|figure)\(", line) or (
            re.search(r"gdl\.plot\.\w+\(", line) and not line.startswith((" ", "\t"))
            and "ax=" not in " ".join(lines[i : i + 3])
        )
        if makes:
            starts.append(i)
    blocks = ["\n".join(lines[a:b]) for a, b in zip(starts, starts[1:] + [len(lines)])]
    return [b.split("plt.show()")[0] for b in blocks]  # the figure's own statements


def draws_samples(source: str) -> bool:
    return ".sample(" in source or ".samples" in source


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_thumbnail_shows_samples(script):
    source = script.read_text()
    match = THUMB.search(source)
    if script.name in NO_IMAGE_SAMPLES or not draws_samples(source):
        return
    if match is None:
        if "flows/plot_04" in script.as_posix():  # a study of the dequantization noise
            return
        pytest.fail(f"{script.name} samples but its thumbnail is its first figure: set thumbnail_number")
    n = int(match[1])
    figs = figures(source)
    assert 1 <= n <= len(figs), f"thumbnail_number {n}, but the script makes {len(figs)} figures"
    assert re.search(r"sampl|walk|grid|Traversal", figs[n - 1], re.IGNORECASE), (
        f"figure {n} of {script.name} does not show samples:\n{figs[n - 1][:300]}"
    )
