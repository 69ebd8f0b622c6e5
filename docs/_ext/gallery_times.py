"""The gallery's run times, measured against a reference workload so that budgets hold on any machine.

A machine's speed varies two to four times from one to the next, so a budget in seconds means
nothing on its own. At the start of every build the docs time a fixed *reference workload* (a few
seconds of small training loops, like the gallery's, on one thread) and store it in
``docs/_build/reference.json``. Each script's time is then reported both in seconds and in
*reference units*, multiples of that workload's time, and each script states its budget in
reference units with a line ``# sphinx_gallery_gdl_budget = N`` (hidden from the page).

The units were calibrated so that the first budgets hold on the machine where they were set:
there the causal-convolution ARM script took 33.3 s (its budget was 90 s). On a machine 2.6 times
slower it took 85.9 s, and the reference workload 2.8 s, so one unit was about 1.09 s on the
first machine: its 60 s budgets are 55 units, its 90 s budget 83 units.

Run as a script (``make times``) it prints every script's last time in seconds and in units, and
flags those over budget::

    python docs/_ext/gallery_times.py docs
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

BUDGET = re.compile(r"^# sphinx_gallery_gdl_budget = (\d+(?:\.\d+)?)\s*$", re.MULTILINE)


def reference_workload(repeats: int = 3) -> float:
    """Seconds for a fixed bit of training (the fastest of ``repeats`` runs), on one thread.

    A causal-convolution ARM and an MLP VAE, 150 steps each on the digits: the two kinds of
    work (convolutions, dense layers) that most gallery scripts spend their time on.
    """
    import torch

    import gdl
    from gdl import data
    from gdl.autoregressive import CausalConvARM
    from gdl.latent import VAE

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    x, _ = data.digits("train")
    best = float("inf")
    try:
        with torch.random.fork_rng():
            for _ in range(repeats):
                torch.manual_seed(0)
                start = time.perf_counter()
                arm = CausalConvARM(hidden=64, kernel_size=5, num_layers=3)
                gdl.fit(arm, x, steps=150, batch_size=64, seed=0, progress=False, log_every=0)
                vae = VAE(hidden=[256], latent_dim=8)
                gdl.fit(vae, x, steps=150, batch_size=64, seed=0, progress=False, log_every=0)
                best = min(best, time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    return best


def write_reference(path: Path) -> float:
    """Time the reference workload and store it in ``path`` (JSON); return its seconds."""
    seconds = reference_workload()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"seconds": seconds, "time": time.strftime("%Y-%m-%d %H:%M:%S")}))
    return seconds


def read_reference(docs: Path) -> float | None:
    path = docs / "_build" / "reference.json"
    return json.loads(path.read_text())["seconds"] if path.exists() else None


def script_times(docs: Path) -> dict[str, float]:
    """Each executed gallery script's last run time, ``{"section/plot_x.py": seconds}``."""
    out = {}
    for cost in sorted((docs / "auto_examples").glob("*/*.cost.json")):
        out[f"{cost.parent.name}/{cost.name.removesuffix('.cost.json')}.py"] = json.loads(cost.read_text())["time"]
    return out


def budgets(gallery: Path) -> dict[str, float]:
    """Each gallery script's budget in reference units, from its ``sphinx_gallery_gdl_budget`` line."""
    out = {}
    for script in sorted(gallery.glob("*/plot_*.py")):
        match = BUDGET.search(script.read_text())
        if match:
            out[f"{script.parent.name}/{script.name}"] = float(match[1])
    return out


def main(argv: list[str]) -> int:
    docs = Path(argv[1] if len(argv) > 1 else "docs")
    gallery = docs.parent / "gallery"
    times, limits, unit = script_times(docs), budgets(gallery), read_reference(docs)
    if not times:
        print("no gallery timings yet (the gallery has not been executed)")
        return 0
    if unit is None:
        print("no reference time in docs/_build/reference.json: run the build first")
        return 0
    print(f"reference workload: {unit:.2f} s = 1 unit on this machine")
    print("gallery script times (this build or the last one that ran the script):")
    over = []
    for name, seconds in sorted(times.items(), key=lambda kv: -kv[1]):
        units = seconds / unit
        budget = limits.get(name)
        if budget is None:
            verdict = "no budget"
        elif units <= budget:
            verdict = f"within its {budget:g}-unit budget"
        else:
            verdict = f"OVER its {budget:g}-unit budget"
            over.append(name)
        print(f"  {name:55} {seconds:7.1f} s {units:6.1f} units  {verdict}")
    total = sum(times.values())
    print(f"  {'total':55} {total:7.1f} s {total / unit:6.1f} units")
    missing = sorted(set(limits) - set(times))
    if missing:
        print("not executed yet: " + ", ".join(missing))
    if over:
        print(f"{len(over)} script(s) over budget: " + ", ".join(over))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
