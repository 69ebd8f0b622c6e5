"""The conclusion's measured map of the book: ``{gdl-conclusion}``.

The directive writes, from the results the gallery scripts recorded in this build
(:func:`gdl.results.load_results`) and from :mod:`gdl.taxonomy`:

* ``:part: chart``: every result on two charts, test NLL (marked by its kind) against training
  seconds, and sample quality (FD on gdl features) against sampling time, coloured by family;
* ``:part: families``: per family, its models and the best it measured;
* ``:part: models``: every registered model, with what this build measured of it;
* ``:part: scripts``: every gallery script, with the rows it recorded.

Lists of models and scripts are derived (the registry, the ``gallery/`` folder), so a chapter
added later appears without editing this file; ``tests/test_conclusion.py`` checks it.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)
DOCS = Path(__file__).resolve().parent.parent
GALLERY = DOCS.parent / "gallery"
#: Where the chart is written (inside the source tree, ignored by git, copied by Sphinx).
CHART = DOCS / "generated" / "conclusion_chart.png"
KIND_MARKERS = {"exact": "o", "bound": "^", "estimate": "s"}


def _cell(text: str) -> str:
    return str(text).replace("|", r"\|").replace("\n", " ")


def gallery_scripts(gallery: Path = GALLERY) -> list[tuple[str, str]]:
    """Every gallery script as ``(section/plot_x.py, title)``, in folder and file order."""
    out = []
    for path in sorted(gallery.glob("*/plot_*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text())) or path.stem
        title = next((line.strip() for line in doc.splitlines() if line.strip()), path.stem)
        out.append((f"{path.parent.name}/{path.name}", title))
    return out


def _family_of(row: dict) -> str:
    """The family of the model behind a result row: its class's, else the script's section."""
    from gdl.taxonomy import REGISTRY

    if row.get("class") in REGISTRY:
        return REGISTRY[row["class"]].family
    source = row.get("source") or ""
    return source.split("/")[0] if "/" in source else "other"


def _link(source: str) -> str:
    section, name = source.split("/")
    return f"{{doc}}`{source} </auto_examples/{section}/{Path(name).stem}>`"


def _fmt(v, spec: str) -> str:
    return "" if v is None else format(v, spec)


def models_table(results: list[dict], registry: dict) -> str:
    """Every registered model with the results rows whose name starts with its class or names it."""
    rows = ["| Model | Family | Density | Measured in this build |", "|---|---|---|---|"]
    for name, cls in sorted(registry.items(), key=lambda kv: (kv[1].family, kv[0])):
        mine = [r for r in results if r.get("class") == name]
        if mine:
            measured = "; ".join(
                f"{_cell(r['model'])} on {r['dataset']}: "
                + (f"{r['nll']:.1f} nats ({r['kind']})" if r.get("nll") is not None else "no likelihood")
                + (f", FD {r['sample_quality']['fd']:.1f}" if r.get("sample_quality") else "")
                for r in mine
            )
        else:
            measured = "not measured in this build"
        rows.append(f"| `{name}` | {cls.family} | {cls.density} | {measured} |")
    return "\n".join(rows)


def scripts_table(results: list[dict], gallery: Path = GALLERY) -> str:
    """Every gallery script with the leaderboard rows it recorded."""
    rows = ["| Script | Title | Leaderboard rows |", "|---|---|---|"]
    for source, title in gallery_scripts(gallery):
        mine = [r["model"] for r in results if r.get("source") == source]
        recorded = ", ".join(_cell(m) for m in mine) if mine else "none (it shows, it does not rank)"
        rows.append(f"| {_link(source)} | {_cell(title)} | {recorded} |")
    return "\n".join(rows)


def families_table(results: list[dict], families: dict) -> str:
    """Per family: its models, its best test NLL on the digits by kind, and its best FD."""
    rows = [
        "| Family | Models | Best digits NLL (nats, kind) | Best FD on gdl features | Fastest sampler (ms / 100) |",
        "|---|---|---|---|---|",
    ]
    for key, family in families.items():
        mine = [r for r in results if _family_of(r) == key and r["dataset"] == "digits"]
        nll = [r for r in mine if r.get("nll") is not None]
        best = min(nll, key=lambda r: r["nll"]) if nll else None
        fd = [r for r in mine if r.get("sample_quality")]
        best_fd = min(fd, key=lambda r: r["sample_quality"]["fd"]) if fd else None
        fast = [r for r in mine if r.get("sample_seconds_per_100") is not None]
        fastest = min(fast, key=lambda r: r["sample_seconds_per_100"]) if fast else None
        models = ", ".join(f"`{m.__name__}`" for m in family.members) or "none"
        nll_text = f"{best['nll']:.1f} ({best['kind']}, {_cell(best['model'])})" if best else "none"
        fd_text = f"{best_fd['sample_quality']['fd']:.1f} ({_cell(best_fd['model'])})" if best_fd else "none"
        ms = 1000 * fastest["sample_seconds_per_100"] if fastest else None
        fast_text = f"{ms:,.1f} ({_cell(fastest['model'])})" if fastest else "none"
        rows.append(f"| {family.name} | {models} | {nll_text} | {fd_text} | {fast_text} |")
    return "\n".join(rows)


def draw_chart(results: list[dict], path: Path = CHART) -> int:
    """Two panels: digits NLL against training seconds, FD against sampling time; returns the
    number of points drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in results if r["dataset"] == "digits"]
    families = sorted({_family_of(r) for r in rows})
    colours = {f: plt.get_cmap("tab10")(i % 10) for i, f in enumerate(families)}
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    points = 0
    for r in rows:
        c = colours[_family_of(r)]
        if r.get("nll") is not None and r.get("train_seconds"):
            left.scatter(r["train_seconds"], r["nll"], color=c, marker=KIND_MARKERS.get(r["kind"], "x"), s=40)
            left.annotate(r["model"], (r["train_seconds"], r["nll"]), fontsize=6, alpha=0.8,
                          xytext=(3, 3), textcoords="offset points")
            points += 1
        q = r.get("sample_quality")
        if q and r.get("sample_seconds_per_100"):
            right.scatter(10 * r["sample_seconds_per_100"], q["fd"], color=c, s=40)  # ms per sample
            right.annotate(r["model"], (10 * r["sample_seconds_per_100"], q["fd"]), fontsize=6, alpha=0.8,
                           xytext=(3, 3), textcoords="offset points")
            points += 1
    left.set(xscale="log", xlabel="training (s, one CPU thread)", ylabel="test NLL (nats per digit)",
             title="Likelihood against training time (marker: kind)")
    right.set(xscale="log", yscale="log", xlabel="sampling (ms per sample)", ylabel="FD on gdl features",
              title="Sample quality against sampling time")
    for f in families:
        right.scatter([], [], color=colours[f], label=f)
    for kind, m in KIND_MARKERS.items():
        left.scatter([], [], color="grey", marker=m, label=kind)
    left.legend(frameon=False, fontsize=7)
    right.legend(frameon=False, fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight", dpi=110)
    plt.close(fig)
    return points


def _with_class(rows: list[dict]) -> list[dict]:
    """Each row with its model's class name under ``"class"`` (``None`` where it was not recorded)."""
    return [{**r, "class": r.get("model_class")} for r in rows]


class Conclusion(SphinxDirective):
    """``{gdl-conclusion}`` with ``:part:`` one of chart, families, models, scripts."""

    has_content = False
    option_spec = {"part": str}

    def run(self):
        self.env.gdl_dynamic_docs = getattr(self.env, "gdl_dynamic_docs", set())
        self.env.gdl_dynamic_docs.add(self.env.docname)
        import gdl
        from gdl.results import load_results
        from gdl.taxonomy import FAMILIES, REGISTRY

        gdl.import_all()
        folder = Path(os.environ.get("GDL_RESULTS_DIR", DOCS / "auto_examples" / "_results"))
        results = _with_class(load_results(folder) if folder.exists() else [])
        part = self.options.get("part", "scripts")
        if part == "chart":
            if not results:
                return self.parse_text_to_nodes(
                    ":::{note}\nThe gallery was not executed in this build, so there are no measured "
                    "results to draw. Run `make site` for the full build.\n:::"
                )
            draw_chart(results)
            rel = os.path.relpath(CHART, (DOCS / self.env.docname).parent)
            self.env.note_dependency(str(CHART))
            return self.parse_text_to_nodes(f"```{{figure}} {rel}\n:alt: every family on two charts\n```")
        if part == "families":
            return self.parse_text_to_nodes(families_table(results, FAMILIES))
        if part == "models":
            return self.parse_text_to_nodes(models_table(results, REGISTRY))
        if part == "scripts":
            return self.parse_text_to_nodes(scripts_table(results))
        raise self.error(f"part must be one of chart, families, models, scripts; got {part!r}")


def setup(app):
    app.add_directive("gdl-conclusion", Conclusion)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
