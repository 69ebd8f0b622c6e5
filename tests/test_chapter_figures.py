"""The chapters' figures and gallery lists, from the sources (no built site needed).

Every chapter shows a figure drawn from the package (``{gdl-figure} name``, registered in
docs/_ext/chapter_figures.py), every registered figure draws, and every gallery script is listed
by some chapter (``{gdl-examples} ...``), so that its page links back to one.
"""

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs" / "_ext"))
chapter_figures = pytest.importorskip("chapter_figures")  # needs matplotlib, the docs extra

CHAPTERS = sorted((ROOT / "docs" / "chapters").glob("[0-9][0-9]-*.md"))
#: Chapters without a gallery section: deep learning (no models of its own) and the conclusion
#: (which lists every script in a table instead).
NO_EXAMPLES = {"02-deep-learning.md", "14-conclusion.md"}


def _directives(text: str, name: str) -> list[list[str]]:
    """The arguments of every ``{name}`` directive of a MyST page."""
    return [m.split() for m in re.findall(r"^```\{" + re.escape(name) + r"\}[ \t]*(.*)$", text, flags=re.M)]


def test_there_are_fourteen_chapters():
    assert [p.name[:2] for p in CHAPTERS] == [f"{i:02d}" for i in range(1, 15)]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_shows_a_registered_figure(chapter):
    names = [args[0] for args in _directives(chapter.read_text(), "gdl-figure")]
    assert names, f"{chapter.name} has no {{gdl-figure}}"
    for name in names:
        assert name in chapter_figures.FIGURES, f"{chapter.name}: no figure {name!r} in chapter_figures.py"


def test_every_registered_figure_is_shown_by_a_chapter():
    shown = {args[0] for c in CHAPTERS for args in _directives(c.read_text(), "gdl-figure")}
    assert set(chapter_figures.FIGURES) <= shown, sorted(set(chapter_figures.FIGURES) - shown)


@pytest.mark.parametrize("name", sorted(chapter_figures.FIGURES))
def test_figure_draws(name):
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    fig = chapter_figures.FIGURES[name]()
    try:
        assert isinstance(fig, Figure)
        assert fig.axes, "no axes"
        assert all(ax.has_data() or ax.texts for ax in fig.axes), "an empty panel"
        fig.canvas.draw()  # every artist renders (bad TeX in a label fails here)
    finally:
        plt.close(fig)


@pytest.mark.parametrize("chapter", [c for c in CHAPTERS if c.name not in NO_EXAMPLES], ids=lambda p: p.stem)
def test_chapter_lists_gallery_scripts(chapter):
    gdl_chapters = pytest.importorskip("gdl_chapters")  # needs sphinx
    lists = _directives(chapter.read_text(), "gdl-examples")
    assert lists, f"{chapter.name} has no {{gdl-examples}}"
    assert all(gdl_chapters.resolve_scripts(args) for args in lists)


def test_every_gallery_script_is_listed_by_a_chapter():
    gdl_chapters = pytest.importorskip("gdl_chapters")
    listed = {p for c in CHAPTERS for args in _directives(c.read_text(), "gdl-examples")
              for p in gdl_chapters.resolve_scripts(args)}
    scripts = set((ROOT / "gallery").glob("*/plot_*.py"))
    assert scripts and scripts <= listed, sorted(str(p.relative_to(ROOT)) for p in scripts - listed)
