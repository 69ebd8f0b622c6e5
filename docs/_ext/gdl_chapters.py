"""Chapters and gallery, linked both ways; figures drawn from the package.

* ``{gdl-figure} name``: a figure of ``chapter_figures.FIGURES`` drawn while the site is built,
  with the directive's content as its caption and, with ``:code:``, the function that drew it
  in a fold beneath. A chapter adds a function there and one directive on its page.
* ``{gdl-examples} section [section/plot_x ...]``: the gallery scripts of a chapter as thumbnail
  cards (every ``plot_*`` script of a gallery folder, or the scripts named). Each script listed
  by a page gets a line under its gallery page's title that links back to that page, and to the
  script's row on the leaderboard where it recorded one (``gdl_leaderboard``).
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)
DOCS = Path(__file__).resolve().parent.parent
GALLERY = DOCS.parent / "gallery"
FIGURES_DIR = DOCS / "generated" / "figures"


def _dynamic(env) -> None:
    """Re-read the page on every build: its content comes from the package (gdl_sphinx._outdated)."""
    env.gdl_dynamic_docs = getattr(env, "gdl_dynamic_docs", set())
    env.gdl_dynamic_docs.add(env.docname)


class ChapterFigure(SphinxDirective):
    """A chapter figure drawn from the package at build time."""

    required_arguments = 1
    has_content = True
    option_spec = {"code": lambda arg: True, "alt": str}

    def run(self):
        import matplotlib.pyplot as plt
        from chapter_figures import FIGURES

        name = self.arguments[0]
        if name not in FIGURES:
            raise self.error(f"gdl-figure: no figure {name!r}; chapter_figures.py has {sorted(FIGURES)}")
        _dynamic(self.env)
        self.env.note_dependency(str(Path(__file__).with_name("chapter_figures.py")))
        fn = FIGURES[name]
        FIGURES_DIR.mkdir(parents=True, exist_ok=True)
        fig = fn()
        width = fig.get_size_inches()[0]
        # twice the resolution it is shown at, for dense screens
        fig.savefig(FIGURES_DIR / f"{name}.png", dpi=200, bbox_inches="tight")
        plt.close(fig)
        alt = self.options.get("alt") or (fn.__doc__ or name).strip().splitlines()[0]
        caption = "\n".join(self.content).strip() or alt
        text = (
            f":::{{figure}} /generated/figures/{name}.png\n:alt: {alt}\n:width: {int(width * 90)}px\n"
            f":name: fig-{name}\n\n{caption}\n:::\n"
        )
        if "code" in self.options:
            source = inspect.getsource(fn)
            source = "\n".join(line for line in source.splitlines() if not line.startswith("@figure"))
            text += (
                "\n::::{dropdown} The code that drew this figure\n"
                f"```python\n{source}\n```\n::::\n"
            )
        return self.parse_text_to_nodes(text)


def script_title(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text())) or path.stem
    return next((line.strip() for line in doc.splitlines() if line.strip()), path.stem)


def resolve_scripts(args: list[str]) -> list[Path]:
    """``section`` (all its ``plot_*`` scripts) or ``section/plot_x`` to script paths."""
    out = []
    for arg in args:
        arg = arg.removesuffix(".py").strip("/")
        if "/" in arg:
            path = GALLERY / f"{arg}.py"
            if not path.exists():
                raise ValueError(f"gdl-examples: no gallery script {arg}.py")
            out.append(path)
        else:
            found = sorted((GALLERY / arg).glob("plot_*.py"))
            if not found:
                raise ValueError(f"gdl-examples: no plot_* scripts in gallery/{arg}")
            out.extend(found)
    return out


class ChapterExamples(SphinxDirective):
    """The gallery scripts of a chapter, as thumbnail cards; gallery pages link back here."""

    required_arguments = 1
    optional_arguments = 50
    has_content = False

    def run(self):
        try:
            scripts = resolve_scripts(self.arguments)
        except ValueError as e:
            raise self.error(str(e)) from None
        _dynamic(self.env)
        links = self.env.__dict__.setdefault("gdl_example_chapters", {})
        cards = ["::::{grid} 2 3 3 4", ":gutter: 2", ":class-container: gdl-examples", ""]
        for path in scripts:
            section, stem = path.parent.name, path.stem
            docname = f"auto_examples/{section}/{stem}"
            pages = links.setdefault(docname, [])
            if self.env.docname not in pages:
                pages.append(self.env.docname)
            thumb = DOCS / "auto_examples" / section / "images" / "thumb" / f"sphx_glr_{stem}_thumb.png"
            img = f":img-top: /auto_examples/{section}/images/thumb/{thumb.name}\n" if thumb.exists() else ""
            cards += [f":::{{grid-item-card}} {script_title(path)}", f":link: /{docname}", ":link-type: doc",
                      img.rstrip("\n"), ":::", ""]
        cards.append("::::")
        return self.parse_text_to_nodes("\n".join(line for line in cards if line is not None))


def _purge(app, env, docname):
    for pages in getattr(env, "gdl_example_chapters", {}).values():
        if docname in pages:
            pages.remove(docname)


def _merge(app, env, docnames, other):
    mine = env.__dict__.setdefault("gdl_example_chapters", {})
    for doc, pages in getattr(other, "gdl_example_chapters", {}).items():
        mine.setdefault(doc, [])
        mine[doc] += [p for p in pages if p not in mine[doc]]


def back_links(app, doctree, docname):
    """Under a gallery page's title: its chapters, and its row on the leaderboard."""
    env = app.env
    chapters = [c for c in getattr(env, "gdl_example_chapters", {}).get(docname, []) if c in env.titles]
    anchors = getattr(env, "gdl_leaderboard_anchors", {}).get(docname)
    if not chapters and not anchors:
        return
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None:
        return
    para = nodes.paragraph(classes=["gdl-backlinks"])
    para += nodes.Text("Read with ")
    for i, chapter in enumerate(chapters):
        if i:
            para += nodes.Text(" and ")
        ref = nodes.reference("", "", internal=True, refuri=app.builder.get_relative_uri(docname, chapter))
        ref += nodes.Text(env.titles[chapter].astext())
        para += ref
    if anchors:
        page, anchor = anchors
        para += nodes.Text("; its results are " if chapters else "Its results are ")
        ref = nodes.reference("", "", internal=True,
                              refuri=app.builder.get_relative_uri(docname, page) + "#" + anchor)
        ref += nodes.Text("on the leaderboard")
        para += ref
    elif not chapters:
        return
    para += nodes.Text(".")
    section.insert(1, para)


def _backlinks(env) -> dict[str, tuple]:
    """What each gallery page's back-link line says: its chapters (with their titles) and its row."""
    chapters = getattr(env, "gdl_example_chapters", {})
    anchors = getattr(env, "gdl_leaderboard_anchors", {})
    return {
        doc: (
            tuple((c, env.titles[c].astext()) for c in chapters.get(doc, []) if c in env.titles),
            tuple(anchors.get(doc) or ()),
        )
        for doc in sorted(set(chapters) | set(anchors))
    }


def _rewrite(app, env):
    """Gallery pages get their back-links at write time: write again those whose line has changed."""
    now, before = _backlinks(env), getattr(env, "gdl_backlinks_written", {})
    env.gdl_backlinks_written = now
    return sorted(doc for doc in now if now[doc] != before.get(doc))


def setup(app):
    app.add_directive("gdl-figure", ChapterFigure)
    app.add_directive("gdl-examples", ChapterExamples)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("doctree-resolved", back_links)
    app.connect("env-updated", _rewrite)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
