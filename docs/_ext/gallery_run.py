"""Run the gallery's scripts on every core, across all its sections, before sphinx-gallery looks.

sphinx-gallery's own ``parallel`` option runs the scripts of one section at a time: a section
waits for the slowest script of the one before it, and with a few long scripts per section the
cores idle for minutes. This runs every script that changed, of every section, through one pool
of worker processes (one thread each), the longest chain first (by the time each took last,
or its budget on a first build, plus the scripts that wait for it), with the
very function sphinx-gallery uses for a script (``generate_file_rst``): the page, the figures,
the checksum and the script's own run time are exactly what sphinx-gallery would write. When
sphinx-gallery then walks the gallery, every script that ran is up to date and is only linked in.

Two kinds of order are kept, each stated in a script by a hidden config comment:

* ``# sphinx_gallery_gdl_after = "plot_02_ddpm_digits.py"``: start only after that script of the
  same section has finished (it trains a model this one loads from the cache of trained weights);
  several scripts are separated by commas, and one of another section is named with its folder,
  ``"plot_01_clip.py, latent/plot_02_vae_fashion.py"``;
* ``# sphinx_gallery_gdl_after = "*"``: start after every other script (a page that gathers what
  the others recorded, like the comparison of sample quality).

A script may also name work that does not wait for any other script, so that it runs first,
while every core is busy anyway, rather than on the build's tail where the script would run alone:
``# sphinx_gallery_gdl_prepare = "gdl.quality.feature_network(seed=1); gdl.quality.feature_network(seed=2)"``.
Each call (a function of an importable module, with literal arguments) is a job of the pool that
the script waits for; it should fill a cache the script then reads (the cache of trained
weights, say), so that the script still does it all itself when run on its own or when a job
fails.

A script that fails here gets no checksum, so sphinx-gallery runs it again in its own pass,
reports the failure with the script's name, and fails the build.
"""

from __future__ import annotations

import ast
import importlib
import json
import math
import re
import time
from pathlib import Path
from typing import NamedTuple

import gallery_times
from sphinx.util import logging

logger = logging.getLogger(__name__)
BUDGET = re.compile(r"^# sphinx_gallery_gdl_budget = (\d+(?:\.\d+)?)\s*$", re.MULTILINE)
AFTER = re.compile(r'^# sphinx_gallery_gdl_after = "([^"]+)"\s*$', re.MULTILINE)
PREPARE = re.compile(r'^# sphinx_gallery_gdl_prepare = "([^"]+)"\s*$', re.MULTILINE)


class Prepare(NamedTuple):
    """A call that ``script`` waits for, run on the pool before it (``sphinx_gallery_gdl_prepare``)."""

    script: Path
    call: str

    def __str__(self) -> str:
        return f"{self.script.parent.name}/{self.script.name}: {self.call}"


def parse_call(call: str) -> tuple[str, str, tuple, dict]:
    """``"pkg.mod.fn(1, k=2)"`` as ``("pkg.mod", "fn", (1,), {"k": 2})``; arguments must be literals."""
    node = ast.parse(call.strip(), mode="eval").body
    if not isinstance(node, ast.Call):
        raise TypeError(f"expected a call like 'module.function(k=1)', got {call!r}")
    module, _, name = ast.unparse(node.func).rpartition(".")
    if not module:
        raise ValueError(f"name the function with its module, got {call!r}")
    args = tuple(ast.literal_eval(a) for a in node.args)
    kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
    return module, name, args, kwargs


def prepare_jobs(script: Path) -> list[Prepare]:
    """The prepare calls a script states, in order."""
    match = PREPARE.search(script.read_text())
    calls = [c.strip() for c in match[1].split(";") if c.strip()] if match else []
    for call in calls:  # a malformed one fails the build here, naming the script
        try:
            parse_call(call)
        except (ValueError, TypeError, SyntaxError) as err:
            raise ValueError(f"{script}: sphinx_gallery_gdl_prepare: {err}") from err
    return [Prepare(script, c) for c in calls]


def run_prepare(call: str) -> float:
    """Run one prepare call in a worker; its seconds."""
    module, name, args, kwargs = parse_call(call)
    start = time.perf_counter()
    getattr(importlib.import_module(module), name)(*args, **kwargs)
    return time.perf_counter() - start


def stale_scripts(gallery: Path, out: Path, pattern: str) -> list[Path]:
    """The gallery scripts whose page is missing or older than the script (by checksum)."""
    from sphinx_gallery.utils import get_md5sum

    stale = []
    for script in sorted(gallery.glob("*/*.py")):
        if not re.search(pattern, str(script)):
            continue
        md5 = out / script.parent.name / f"{script.name}.md5"
        if not md5.exists() or md5.read_text().strip() != get_md5sum(script, mode="t"):
            stale.append(script)
    return stale


def _last_cost(out: Path, script: Path, unit: float) -> float:
    """Seconds the script took last time; on a first build, its budget (reference units of
    ``unit`` seconds each)."""
    cost = out / script.parent.name / f"{script.stem}.cost.json"
    try:
        return float(json.loads(cost.read_text())["time"])
    except (OSError, ValueError, KeyError):
        budget = BUDGET.search(script.read_text())
        return float(budget[1]) * unit if budget else 60.0  # never run: assume a long one


def _priorities(cost: dict[Path, float], waits: dict[Path, set[Path]]) -> dict[Path, float]:
    """Each script's cost plus the longest chain of scripts that wait for it (its critical path).

    Starting the script with the longest chain first keeps a model that others load from the
    cache (the DDPM, say) from being trained last, with its followers idling a core after it.
    """
    rank: dict[Path, float] = {}

    def chain(script: Path) -> float:
        if script not in rank:
            followers = [s for s, before in waits.items() if script in before]
            rank[script] = cost[script] + max((chain(s) for s in followers), default=0.0)
        return rank[script]

    for script in cost:
        chain(script)
    for task in rank:  # short, and waited for: first, while the cores are busy anyway, not on the tail
        if isinstance(task, Prepare):
            rank[task] = math.inf
    return rank


def _dependencies(script: Path, all_scripts: list[Path]) -> set[Path]:
    match = AFTER.search(script.read_text())
    if not match:
        return set()
    if match[1] == "*":
        return {s for s in all_scripts if s != script}
    # a name is a script of the same section; "section/plot_x.py" one of another section
    names = [name.strip() for name in match[1].split(",")]
    return {script.parent.parent / n if "/" in n else script.parent / n for n in names} & set(all_scripts)


def run(app) -> None:
    """Execute the changed gallery scripts on ``GDL_GALLERY_JOBS`` processes (default: one per core)."""
    import os

    from joblib.externals.loky import get_reusable_executor
    from sphinx_gallery.gen_rst import generate_file_rst

    conf = app.config.sphinx_gallery_conf
    jobs = int(os.environ.get("GDL_GALLERY_JOBS", os.cpu_count() or 1))
    if not conf["plot_gallery"] or jobs <= 1:
        return  # sphinx-gallery runs the scripts itself, one at a time
    srcdir = Path(app.srcdir)
    gallery = (srcdir / conf["examples_dirs"][0]).resolve()
    out = srcdir / conf["gallery_dirs"][0]
    todo = stale_scripts(gallery, out, conf["filename_pattern"])
    if not todo:
        return
    waits = {s: _dependencies(s, todo) for s in todo}
    unit = gallery_times.read_reference(srcdir) or 1.0  # timed at the start of this build
    cost = {s: _last_cost(out, s, unit) for s in todo}
    for script in list(todo):
        for job in prepare_jobs(script):
            waits[script].add(job)
            waits[job], cost[job] = set(), 0.0  # ranked first whatever its cost (_priorities)
    priority = _priorities(cost, waits)
    tasks = list(waits)  # the scripts, then their prepare jobs
    for script in todo:  # the folders and thumbnails folder, made before any worker writes there
        (out / script.parent.name / "images" / "thumb").mkdir(parents=True, exist_ok=True)
    logger.info(f"running {len(todo)} gallery scripts on {jobs} processes, longest chain first")
    executor = get_reusable_executor(max_workers=jobs)
    running, done = {}, set()
    start = time.perf_counter()

    def submit_ready():
        ready = [t for t in tasks if t not in done and t not in running.values() and waits[t] <= done]
        for task in sorted(ready, key=lambda t: -priority[t])[: jobs - len(running)]:
            if isinstance(task, Prepare):
                future = executor.submit(run_prepare, task.call)
            else:
                future = executor.submit(generate_file_rst, task.name, str(out / task.parent.name),
                                         str(task.parent), conf)
            running[future] = task

    submit_ready()
    while running:
        from concurrent.futures import FIRST_COMPLETED, wait

        finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
        for future in finished:
            task = running.pop(future)
            done.add(task)
            if isinstance(task, Prepare):  # on failure the script does the work itself
                try:
                    logger.info(f"  {task} done in {future.result():.1f} s  [{time.perf_counter() - start:.0f} s]")
                except Exception as err:  # noqa: BLE001 (whatever failed, the script does it itself)
                    logger.info(f"  {task} failed ({err!r}); the script will do it itself")
                continue
            name = f"{task.parent.name}/{task.name}"
            try:
                _, _, (seconds, _), out_vars = future.result()
            except Exception as err:  # the worker died: sphinx-gallery runs the script again
                logger.info(f"  {name}: the worker failed ({err!r}); sphinx-gallery will run it")
                continue
            state = "failed (sphinx-gallery will run it again)" if "formatted_exception" in out_vars else "ran"
            logger.info(f"  {name} {state} in {seconds:.1f} s  [{time.perf_counter() - start:.0f} s]")
        submit_ready()
    logger.info(f"gallery scripts done in {time.perf_counter() - start:.1f} s")
