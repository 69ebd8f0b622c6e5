"""Sphinx helpers of the gdl site.

* ``{gdl-taxonomy}``: the family table, written from :mod:`gdl.taxonomy` so the page and the
  code cannot drift apart.
* ``{gdl-leaderboard}`` lives in :mod:`gdl_leaderboard`.
* ``tight_matplotlib_scraper``: sphinx-gallery's matplotlib scraper with a tight bounding box.
* ``audio_scraper``: the audio players a gallery cell showed, as HTML5 ``<audio>`` elements.
* the run time of every gallery script, stated at the top of its page in seconds and in units of a
  reference workload timed at the start of the build (:mod:`gallery_times`).
* offline intersphinx inventories, compiled from ``docs/_inventories/*.txt``.
"""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path

import gallery_run
import gallery_times

from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)
DOCS = Path(__file__).resolve().parent.parent


def reset_gdl(gallery_conf, fname, when=None):
    """Before each gallery script: one thread, and the run's seed in every generator
    (:func:`gdl.run.prepare`), so that scripts hold no seed or thread settings of their own."""
    from gdl.run import prepare

    prepare()


def tight_matplotlib_scraper(block, block_vars, gallery_conf, **kwargs):
    """sphinx-gallery's matplotlib scraper, saving figures with ``bbox_inches="tight"``."""
    from sphinx_gallery.scrapers import matplotlib_scraper

    return matplotlib_scraper(block, block_vars, gallery_conf, bbox_inches="tight", **kwargs)


def audio_scraper(block, block_vars, gallery_conf, **kwargs):
    """The audio players a cell showed (:func:`gdl.music.play`), as raw HTML under the cell.

    Each player inlines its WAV (and MIDI) as ``data:`` URIs, so the page plays offline and
    needs no files copied next to it.
    """
    import sys

    music = sys.modules.get("gdl.music")
    if music is None or not music.Audio.shown:
        return ""
    players, music.Audio.shown[:] = list(music.Audio.shown), []
    html = "\n".join(p._repr_html_() for p in players)
    return "\n\n.. raw:: html\n\n" + "\n".join("    " + line for line in html.splitlines()) + "\n\n"


def breakable_math(tex: str) -> str:
    """Inline maths cut at its top-level ``=``, ``+``, ``-`` and relations into several ``$..$``
    pieces, so that a narrow table cell can wrap it between them (MathJax 3 cannot wrap one)."""
    pieces, start, depth, i = [], 0, 0, 0
    cuts = (" = ", " + ", " - ", " \\ge ", " \\le ", " \\approx ", ",\\quad ")
    while i < len(tex):
        if tex.startswith("\\left", i) or tex[i] in "{([":
            depth += 1
        elif tex.startswith("\\right", i) or tex[i] in "})]":
            depth -= 1
        elif depth == 0 and i > start:
            cut = next((c for c in cuts if tex.startswith(c, i)), None)
            if cut is not None:
                keep = 1 if cut.startswith(",") else 0  # the comma stays with its left side
                pieces.append(tex[start : i + keep].strip())
                start = i + (len(cut) if keep else 0)
                i += len(cut)
                continue
        i += 1
    pieces.append(tex[start:].strip())
    return " ".join(f"${p}$" for p in pieces if p)


def _cell(text: str) -> str:
    return text.replace("|", r"\|").replace("\n", " ")


class DynamicDirective(SphinxDirective):
    """A directive whose page is re-read on every build (its content comes from outside)."""

    def note_dynamic(self) -> None:
        self.env.gdl_dynamic_docs = getattr(self.env, "gdl_dynamic_docs", set())
        self.env.gdl_dynamic_docs.add(self.env.docname)

    def markdown(self, text: str) -> list[nodes.Node]:
        # Pages are MyST: nested content is parsed as Markdown.
        return self.parse_text_to_nodes(text)


class TaxonomyTable(DynamicDirective):
    """The key idea, key equation and goal of each family, with the gdl models in it."""

    has_content = False

    def run(self):
        self.note_dynamic()
        import gdl
        from gdl.taxonomy import DENSITIES, FAMILIES

        gdl.import_all()
        rows = [
            "| Family | Key idea | Key equation | Goal | Density | Models in gdl |",
            "|---|---|---|---|---|---|",
        ]
        for f in FAMILIES.values():
            members = ", ".join(
                f"{{py:class}}`~{m.__module__}.{m.__name__}`" for m in f.members
            ) or "(coming)"
            name = f.name if f.in_tomczak else f"{f.name} (Foster only)"
            rows.append(
                f"| {_cell(name)} | {_cell(f.key_idea)} | {breakable_math(f.key_equation)} | {_cell(f.goal)} "
                f"| {DENSITIES[f.density].branch} | {members} |"
            )
        return self.markdown("\n".join(rows))


class DensityTable(DynamicDirective):
    """The explicit / implicit taxonomy: each kind of density, its method and its models."""

    has_content = False

    def run(self):
        self.note_dynamic()
        import gdl
        from gdl.taxonomy import DENSITIES, REGISTRY

        gdl.import_all()
        rows = ["| Branch | Density | Method | Meaning | Models in gdl |", "|---|---|---|---|---|"]
        for d in DENSITIES.values():
            members = ", ".join(
                f"{{py:class}}`~{c.__module__}.{c.__name__}`"
                for c in REGISTRY.values()
                if c.density == d.key
            ) or "(coming)"
            method = f"`{d.method}`" if d.method else "none"
            rows.append(f"| {d.branch} | {d.label} | {method} | {_cell(d.meaning)} | {members} |")
        return self.markdown("\n".join(rows))


def _gallery_runs(app) -> bool:
    """True if this build executes gallery scripts (plot_gallery on, and some script changed)."""
    from sphinx_gallery.gen_gallery import _bool_eval

    if not _bool_eval(app.config.plot_gallery):
        return False
    return bool(gallery_run.stale_scripts(DOCS.parent / "gallery", DOCS / "auto_examples", r"/plot_"))


def time_reference(app) -> None:
    """Before the gallery runs, time the reference workload on the quiet machine."""
    if _gallery_runs(app):
        seconds = gallery_times.write_reference(DOCS / "_build" / "reference.json")
        logger.info(f"reference workload: {seconds:.2f} s (1 unit of the gallery's budgets)")


def state_run_time(app, docname: str, source: list[str]) -> None:
    """Under the title of each gallery page, say how long its script ran when the site was built."""
    parts = docname.split("/")
    if len(parts) != 3 or parts[0] != "auto_examples" or not parts[2].startswith("plot_"):
        return
    name = f"{parts[1]}/{parts[2]}.py"
    seconds = gallery_times.script_times(DOCS).get(name)
    unit = gallery_times.read_reference(DOCS)
    if seconds is None or unit is None:
        return
    budget = gallery_times.budgets(DOCS.parent / "gallery").get(name)
    line = (
        f"*This script ran in {seconds:.1f} s when this site was built: {seconds / unit:.1f} units of "
        f"the build's reference workload ({unit:.2f} s on that machine)"
        + (f"; its budget is {budget:g} units.*" if budget else ".*")
    )
    lines = source[0].split("\n")
    for i in range(1, len(lines)):  # the title's underline: a line of "=" under a text line
        if lines[i] and set(lines[i]) == {"="} and lines[i - 1].strip():
            lines[i + 1 : i + 1] = ["", line]
            break
    source[0] = "\n".join(lines)


#: What the pages drawn from outside their source (tables from the package, chapter figures,
#: gallery lists, the leaderboard) are drawn from: the package, these extensions, the gallery
#: scripts and what they produced in this build (pages, images, recorded results).
INPUTS = (("gdl", "*.py"), ("docs/_ext", "*.py"), ("gallery", "*.py"), ("docs/auto_examples", "*"))
#: sphinx-gallery's by-products that no drawn page reads; the names-used record of a script is
#: written again late in a build, so hashing it would make the next build re-read every drawn page.
BY_PRODUCTS = (".codeobj.json", ".ipynb", ".zip")


def inputs_fingerprint(root: Path | None = None) -> str:
    """A hash of the content of every file in :data:`INPUTS` (a fraction of a second)."""
    root = root or DOCS.parent
    digest = hashlib.sha256()
    for folder, pattern in INPUTS:
        for path in sorted((root / folder).rglob(pattern)):
            if path.is_file() and "__pycache__" not in path.parts and not path.name.endswith(BY_PRODUCTS):
                digest.update(f"{path.relative_to(root)}\0".encode())
                with path.open("rb") as f:
                    digest.update(hashlib.file_digest(f, "sha256").digest())
    return digest.hexdigest()


def _outdated(app, env, added, changed, removed):
    """Re-read the pages drawn from the package or this build's results when those have changed.

    A rebuild with nothing changed re-reads none of them (and so rewrites no page): their
    inputs' fingerprint is the one stored when they were last read.
    """
    fingerprint = inputs_fingerprint()
    if getattr(env, "gdl_inputs", None) == fingerprint:
        return []
    env.gdl_inputs = fingerprint
    return sorted(getattr(env, "gdl_dynamic_docs", set()) - set(removed))


def _purge(app, env, docname):
    getattr(env, "gdl_dynamic_docs", set()).discard(docname)


def _merge(app, env, docnames, other):
    """A parallel build reads pages in worker processes: gather the drawn pages they found."""
    env.__dict__.setdefault("gdl_dynamic_docs", set()).update(getattr(other, "gdl_dynamic_docs", set()))


def write_inventories(app, config):
    """Compile ``_inventories/NAME.txt`` into ``_build/inventories/NAME.inv`` (objects.inv v2).

    Each line of a ``.txt`` file is ``name domain:role relative-uri``, pointing into the
    project's hosted documentation. They serve as intersphinx's fallback when the build has no
    network, so the API pages still link to torch, numpy and matplotlib.
    """
    out = DOCS / "_build" / "inventories"
    out.mkdir(parents=True, exist_ok=True)
    for src in sorted((DOCS / "_inventories").glob("*.txt")):
        body = []
        for line in src.read_text().splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            name, role, uri = line.split()
            body.append(f"{name} {role} 1 {uri} -")
        header = (
            "# Sphinx inventory version 2\n"
            f"# Project: {src.stem}\n# Version: \n"
            "# The remainder of this file is compressed using zlib.\n"
        )
        data = header.encode() + zlib.compress(("\n".join(body) + "\n").encode())
        (out / f"{src.stem}.inv").write_bytes(data)


def setup(app):
    app.add_directive("gdl-taxonomy", TaxonomyTable)
    app.add_directive("gdl-densities", DensityTable)
    app.connect("env-get-outdated", _outdated)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("config-inited", write_inventories)
    app.connect("builder-inited", time_reference, priority=300)  # before the gallery runs (500)
    app.connect("builder-inited", gallery_run.run, priority=400)  # every core, across sections
    app.connect("source-read", state_run_time)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
