"""Sphinx helpers of the gdl site.

* ``{gdl-taxonomy}``: the family table, written from :mod:`gdl.taxonomy` so the page and the
  code cannot drift apart.
* ``{gdl-leaderboard}``: the results that the gallery scripts measured in this build.
* ``tight_matplotlib_scraper``: sphinx-gallery's matplotlib scraper with a tight bounding box.
* offline intersphinx inventories, compiled from ``docs/_inventories/*.txt``.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)
DOCS = Path(__file__).resolve().parent.parent


def tight_matplotlib_scraper(block, block_vars, gallery_conf, **kwargs):
    """sphinx-gallery's matplotlib scraper, saving figures with ``bbox_inches="tight"``."""
    from sphinx_gallery.scrapers import matplotlib_scraper

    return matplotlib_scraper(block, block_vars, gallery_conf, bbox_inches="tight", **kwargs)


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
                f"| {_cell(name)} | {_cell(f.key_idea)} | ${f.key_equation}$ | {_cell(f.goal)} "
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


class Leaderboard(DynamicDirective):
    """Test negative log-likelihoods measured by the gallery scripts of this build."""

    has_content = False
    option_spec = {"dataset": str}

    def run(self):
        self.note_dynamic()
        from gdl.metrics import KINDS, load_results

        folder = Path(os.environ.get("GDL_RESULTS_DIR", DOCS / "auto_examples" / "_results"))
        dataset = self.options.get("dataset", "digits")
        rows = [r for r in load_results(folder) if r["dataset"] == dataset] if folder.exists() else []
        if not rows:
            executed = str(self.config.sphinx_gallery_conf.get("plot_gallery", "True")) != "False"
            if executed:
                logger.warning(
                    f"leaderboard: no results for {dataset!r} in {folder}; did a gallery script "
                    "stop calling gdl.metrics.record?",
                    location=(self.env.docname, self.lineno),
                )
            return self.markdown(
                ":::{note}\nThe gallery was not executed in this build, so there are no "
                "measured results to show. Run `make site` for the full build.\n:::"
            )

        def num(v, fmt):
            return "" if v is None else format(v, fmt)

        table = [
            "| Model | Test NLL (nats/image) | bits/dim | What the number is | Parameters "
            "| Training (s) | Sampling 100 (s) | Script |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            script = ""
            if r.get("source"):
                stem = Path(r["source"]).stem
                section = Path(r["source"]).parent.name
                script = f"{{doc}}`script </auto_examples/{section}/{stem}>`"
            table.append(
                f"| {_cell(r['model'])} | {r['nll']:.2f} | {r['bits_per_dim']:.3f} "
                f"| {KINDS[r['kind']]} | {num(r['params'], ',')} | {num(r['train_seconds'], '.1f')} "
                f"| {num(r['sample_seconds_per_100'], '.2f')} | {script} |"
            )
        return self.markdown("\n".join(table))


def _outdated(app, env, added, changed, removed):
    """Re-read the pages whose tables come from the package or from this build's results."""
    return sorted(getattr(env, "gdl_dynamic_docs", set()) - set(removed))


def _purge(app, env, docname):
    getattr(env, "gdl_dynamic_docs", set()).discard(docname)


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
    app.add_directive("gdl-leaderboard", Leaderboard)
    app.connect("env-get-outdated", _outdated)
    app.connect("env-purge-doc", _purge)
    app.connect("config-inited", write_inventories)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
