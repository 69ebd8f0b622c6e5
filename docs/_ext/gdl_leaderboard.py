"""The leaderboard: ``{gdl-leaderboard}``, one explorable table per data set.

The rows are what the gallery scripts of this build recorded (:func:`gdl.results.load_results`;
the scripts run before Sphinx reads any page, see ``gallery_run.py``), together with baseline
rows computed here from the package and its data, so that a reader sees where a model stands:

* **independent pixels**: one add-one-smoothed categorical per pixel, fitted to the training
  images and scored on the test images (chapter 1's worked example), with the sample quality of
  images drawn from it;
* **real digits**: the sample quality of the training images themselves, the floor that any
  model's samples can reach with as many images.

The table is sortable and filterable in the browser (``_static/leaderboard.js`` drives the
``simple-datatables`` library, which ``make install`` unpacks from npm into
``_static/simple-datatables``); its kind column is a colour badge (role ``{gdl-kind}``); its rows
are also written as a CSV file into the HTML output, linked under the table.
"""

from __future__ import annotations

import csv
import functools
import io
import math
import os
from pathlib import Path

from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)
DOCS = Path(__file__).resolve().parent.parent

#: The unit of every NLL on the site, as :func:`gdl.results.record` prints it.
UNIT = "nats/example"
#: Kinds of number, in the legend's order: key, badge text, meaning.
KINDS = {
    "exact": ("exact", "the exact discrete NLL"),
    "bound": ("bound", "an upper bound on the discrete NLL (a negative ELBO, or a dequantized density)"),
    "estimate": ("estimate", "an importance-sampled or probability-flow estimate, neither bound nor exact"),
    "none": ("sample quality", "no likelihood: the model is scored on its samples only"),
}
#: Badges of the ``{gdl-kind}`` role: the kinds, and the mark of a baseline row.
BADGES = {**KINDS, "baseline": ("baseline", "a reference row computed while this page was built, not a trained model")}
#: The CSV's columns: (header, key of a table row).
CSV_COLUMNS = [
    ("model", "model"), ("baseline", "baseline"), ("kind", "kind"), (f"nll_{UNIT.replace('/', '_per_')}", "nll"),
    ("bits_per_dim", "bits_per_dim"), ("fd_gdl_features", "fd"), ("precision", "precision"),
    ("recall", "recall"), ("classes_covered", "classes"), ("parameters", "params"),
    ("train_seconds", "train_seconds"), ("sample_ms_per_100", "sample_ms"), ("class", "model_class"),
    ("script", "source"),
]


def kind_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``{gdl-kind}`exact```: a coloured badge for a kind of number (a key of :data:`KINDS`)."""
    key = text.strip()
    if key not in BADGES:
        msg = inliner.reporter.error(f"gdl-kind: unknown kind {key!r}; one of {sorted(BADGES)}", line=lineno)
        return [inliner.problematic(rawtext, rawtext, msg)], [msg]
    label, meaning = BADGES[key]
    node = nodes.inline(label, label, classes=["gdl-kind", f"gdl-kind-{key}"])
    node["title"] = meaning
    return [node], []


def independent_pixels(dataset: str = "digits", seed: int = 0, num_samples: int = 1000):
    """Chapter 1's baseline: one add-one-smoothed categorical per pixel.

    Returns the mean test NLL in nats per example and ``num_samples`` images drawn from the fitted
    marginals (seeded, leaving torch's global random state alone).
    """
    import torch
    from gdl import data

    images = data.image_set(dataset)
    x_train, _ = images.load("train")
    x_test, _ = images.load("test")
    levels, dims = images.num_levels, math.prod(images.shape)
    counts = torch.nn.functional.one_hot(x_train.reshape(len(x_train), dims).long(), levels).sum(0)
    log_pi = ((counts + 1) / (counts + 1).sum(-1, keepdim=True)).log()  # (D, K)
    nll = -log_pi.gather(1, x_test.reshape(len(x_test), dims).long().T).sum(0)  # (N,)
    g = torch.Generator().manual_seed(seed)
    samples = torch.multinomial(log_pi.exp(), num_samples, replacement=True, generator=g)  # (D, n)
    return nll.mean().item(), samples.T.reshape(num_samples, *images.shape)


@functools.cache
def baselines(dataset: str) -> list[dict]:
    """Baseline rows for ``dataset`` (digits only: others would train a new feature network)."""
    if dataset != "digits":
        return []
    from gdl import data
    from gdl.metrics import bits_per_dim
    from gdl.quality import sample_quality

    nll, samples = independent_pixels(dataset)
    x_train, _ = data.digits("train")
    return [
        {"model": "Independent pixels", "baseline": True, "nll": nll, "bits_per_dim": float(bits_per_dim(nll, 64)),
         "kind": "exact", "sample_quality": sample_quality(samples, dataset),
         "source": "chapters/01-generative-modeling", "params": 64 * data.DIGITS_LEVELS},
        {"model": "Real digits (training split)", "baseline": True, "nll": None, "bits_per_dim": None,
         "kind": "none", "sample_quality": sample_quality(x_train, dataset), "source": None, "params": None},
    ]


def _order(row: dict):
    fd = (row.get("sample_quality") or {}).get("fd")
    nll = row.get("nll")
    return (nll is None, nll if nll is not None else (fd if fd is not None else math.inf))


def table_rows(results: list[dict], dataset: str) -> list[dict]:
    """Every row of a data set's table as plain values, best first: rows with an NLL by NLL, then
    the others by FD; baselines sorted in among the models."""
    rows = []
    for r in sorted([*results, *baselines(dataset)], key=_order):
        q = r.get("sample_quality") or {}
        ms = r.get("sample_seconds_per_100")
        rows.append({
            "model": r["model"],
            "baseline": bool(r.get("baseline")),
            "kind": r.get("kind") or "none",
            "nll": r.get("nll"),
            "bits_per_dim": r.get("bits_per_dim"),
            "fd": q.get("fd"),
            "precision": q.get("precision"),
            "recall": q.get("recall"),
            "classes": f"{q['classes_covered']}/{q['num_classes']}" if q else None,
            "params": r.get("params"),
            "train_seconds": r.get("train_seconds"),
            "sample_ms": None if ms is None else 1000 * ms,
            "model_class": r.get("model_class"),
            "source": r.get("source"),
        })
    return rows


def _fmt(v, spec: str) -> str:
    return "" if v is None else format(v, spec)


def _milliseconds(ms) -> str:
    """Milliseconds, with a decimal only where the number is small."""
    return "" if ms is None else (f"{ms:.1f}" if ms < 10 else f"{ms:,.0f}")


def _cell(text: str) -> str:
    return str(text).replace("|", r"\|").replace("\n", " ")


def _api(model_class: str | None) -> str:
    """A link to the class's API entry, under its import path."""
    if not model_class:
        return ""
    import gdl
    from gdl.taxonomy import REGISTRY

    cls = REGISTRY.get(model_class)
    if model_class in getattr(gdl, "__all__", ()):
        return f"{{py:class}}`~gdl.{model_class}`"
    if cls is not None:
        return f"{{py:class}}`~{cls.__module__}.{cls.__name__}`"
    return f"`{model_class}`"


def _model(row: dict) -> str:
    name = _cell(row["model"])
    source = row.get("source")
    if source and source.startswith("chapters/"):
        name = f"{{doc}}`{name} </{source}>`"
    elif source and source.count("/") == 1 and source.endswith(".py"):
        section, script = source.split("/")
        name = f"{{doc}}`{name} </auto_examples/{section}/{Path(script).stem}>`"
    return name + (" {gdl-kind}`baseline`" if row["baseline"] else "")


def markdown_table(rows: list[dict]) -> str:
    head = (f"| Model | Test NLL ({UNIT}) | bits/dim | Kind | FD on gdl features | Precision | Recall "
            "| Classes covered | Parameters | Training (s) | Sampling 100 (ms) | API |")
    lines = [head, "|---" * 12 + "|"]
    for r in rows:
        lines.append(
            f"| {_model(r)} | {_fmt(r['nll'], '.2f')} | {_fmt(r['bits_per_dim'], '.3f')} "
            f"| {{gdl-kind}}`{r['kind']}` | {_fmt(r['fd'], '.1f')} | {_fmt(r['precision'], '.2f')} "
            f"| {_fmt(r['recall'], '.2f')} | {r['classes'] or ''} | {_fmt(r['params'], ',')} "
            f"| {_fmt(r['train_seconds'], '.1f')} | {_milliseconds(r['sample_ms'])} | {_api(r['model_class'])} |"
        )
    return "\n".join(lines)


def csv_text(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([h for h, _ in CSV_COLUMNS])
    for r in rows:
        writer.writerow(["" if r[k] is None else r[k] for _, k in CSV_COLUMNS])
    return out.getvalue()


def slug(dataset: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in dataset.lower()).strip("-").replace("--", "-")


LEGEND = "\n".join(
    ["Kinds of number:", ""]
    + [f"- {{gdl-kind}}`{k}` {meaning}" for k, (_, meaning) in BADGES.items()]
)
BLANKS = (
    "A blank cell means the number does not exist for that row, not that it was lost: models "
    "without a likelihood (GANs; energy-based models, whose normaliser is unknown) have no NLL, "
    "scripts that score no samples (or data that is not an image set) have no sample-quality "
    "columns, and baselines have no training or sampling time. Click a column's header to sort "
    "by it (blanks sort last), type in the box to filter the rows, or pick a kind."
)


class Leaderboard(SphinxDirective):
    """Test negative log-likelihoods and sample quality measured by the gallery scripts of this
    build, with the baseline rows, as one sortable table per data set and a CSV file of its rows."""

    has_content = False
    option_spec = {"dataset": str}

    def run(self):
        from gdl.results import load_results

        env = self.env
        env.gdl_dynamic_docs = getattr(env, "gdl_dynamic_docs", set())
        env.gdl_dynamic_docs.add(env.docname)  # re-read when the results change: its rows come from outside
        folder = Path(os.environ.get("GDL_RESULTS_DIR", DOCS / "auto_examples" / "_results"))
        dataset = self.options.get("dataset", "digits")
        results = [r for r in load_results(folder) if r["dataset"] == dataset] if folder.exists() else []
        text = []
        if not results:
            executed = str(self.config.sphinx_gallery_conf.get("plot_gallery", "True")) != "False"
            if executed:
                logger.warning(
                    f"leaderboard: no results for {dataset!r} in {folder}; did a gallery script "
                    "stop calling gdl.results.record?",
                    location=(env.docname, self.lineno),
                )
            text.append(
                ":::{note}\nThe gallery was not executed in this build, so there are no "
                "measured results to show" + (", only the baselines" if baselines(dataset) else "")
                + ". Run `make site` for the full build.\n:::"
            )
        rows = table_rows(results, dataset)
        if not rows:
            return self.parse_text_to_nodes("\n\n".join(text))
        name = f"leaderboard-{slug(dataset)}.csv"
        if self.env.app.builder.format == "html":
            out = Path(self.env.app.outdir) / "_downloads" / name
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(csv_text(rows))
        depth = "../" * env.docname.count("/")
        text += [
            markdown_table(rows),
            LEGEND,
            BLANKS,
            f'<a class="gdl-csv" href="{depth}_downloads/{name}" download>Download these {len(rows)} rows '
            "as CSV</a>",
        ]
        out_nodes = self.parse_text_to_nodes("\n\n".join(text))
        anchors = env.__dict__.setdefault("gdl_leaderboard_anchors", {})
        for table in (t for n in out_nodes for t in n.findall(nodes.table)):
            table["classes"] += ["gdl-leaderboard"]
            body = next(table.findall(nodes.tbody))
            seen = set()
            for row_node, row in zip(body.children, rows):
                source = row.get("source") or ""
                if source.count("/") != 1 or not source.endswith(".py") or source in seen:
                    continue  # a baseline, or not the script's first row in this table
                seen.add(source)
                section, stem = source.split("/")[0], Path(source).stem
                anchor = nodes.make_id(f"result {section} {stem} {slug(dataset)}")
                next(row_node[0].findall(nodes.paragraph))["ids"].append(anchor)
                anchors.setdefault(f"auto_examples/{section}/{stem}", (env.docname, anchor))
        return out_nodes


def _assets(app, pagename, templatename, context, doctree):
    """The table library only on the pages that show a leaderboard."""
    if doctree is None or not any("gdl-leaderboard" in t["classes"] for t in doctree.findall(nodes.table)):
        return
    app.add_css_file("simple-datatables/style.css")
    app.add_js_file("simple-datatables/simple-datatables.js")
    app.add_js_file("leaderboard.js")


def _purge(app, env, docname):
    anchors = getattr(env, "gdl_leaderboard_anchors", {})
    for doc in [d for d, (page, _) in anchors.items() if page == docname]:
        del anchors[doc]


def _merge(app, env, docnames, other):
    mine = env.__dict__.setdefault("gdl_leaderboard_anchors", {})
    for doc, where in getattr(other, "gdl_leaderboard_anchors", {}).items():
        mine.setdefault(doc, where)


def _check_library(app, config):
    if not (DOCS / "_static" / "simple-datatables" / "simple-datatables.js").exists():
        raise RuntimeError(
            "docs/_static/simple-datatables is missing: run `make datatables` (or `make install`), "
            "which unpacks the leaderboard's table library from npm."
        )


def setup(app):
    app.connect("config-inited", _check_library)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.add_role("gdl-kind", kind_role)
    app.add_directive("gdl-leaderboard", Leaderboard)
    app.connect("html-page-context", _assets)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
