"""Run gallery scripts under several seeds and print the spread of what they record.

Each script runs as the docs build runs it (:mod:`gdl.run`), once per seed, in a fresh process
with one thread; the seed reaches every generator and :func:`gdl.fit`, so a script needs no code
of its own for it. This collects the rows each run passes to :func:`gdl.results.record`, and
prints, per model, the test
NLL (or bound / estimate) and the FD on gdl features for every seed with their mean and
standard deviation, the order of the models by FD under each seed, and each script's time.

    python tests/benchmarks/seeds.py                      # the digits scripts, seeds 0 1 2
    python tests/benchmarks/seeds.py gallery/flows/plot_02_flows_digits.py --seeds 0 1 2 3
    python tests/benchmarks/seeds.py gallery/diffusion/plot_04_flow_matching_digits.py --grep FD
    python tests/benchmarks/seeds.py gallery/gan/plot_05_stylegan_fashion.py --grep "^psi"

``--grep`` also prints, per seed, the lines of a script's output that match a regular
expression (numbers a script prints but does not record, such as FD against sampling steps, or
precision and recall against the truncation ψ of the style-based generator).

``make seeds`` runs the default set. It takes about a quarter of an hour on two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gdl.results import RESULTS_ENV, load_results

#: Lines a script prints with a measured agreement, ``"<route>: classifier agrees with the prompt on 0.708"``.
AGREEMENT = re.compile(r"^(.+?)\s*: classifier agrees with the prompt on ([0-9.]+)\s*$", re.MULTILINE)
#: (script, seed) -> what the run printed.
PRINTED: dict[tuple[str, int], str] = {}

ROOT = Path(__file__).resolve().parents[2]
#: The scripts whose results carry a target (NLL bound, sample quality) on the digits.
DEFAULT_SCRIPTS = [
    "gallery/flows/plot_02_flows_digits.py",
    "gallery/latent/plot_01_vae_digits.py",
    "gallery/diffusion/plot_02_ddpm_digits.py",
    "gallery/diffusion/plot_03_ddim.py",
    "gallery/energy/plot_02_ebm_digits.py",
    "gallery/gan/plot_02_dcgan_digits.py",
]


def run(script: Path, seed: int, results: Path, cache: Path, output: list[str] | None = None) -> float:
    """Run ``script`` under ``seed``, its rows going to ``results`` and the weights it trains
    to ``cache`` (shared by the scripts of one sweep, as in one build); return seconds. The
    lines the script printed are appended to ``output`` when it is given."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg", PYTHONHASHSEED="0")
    env[RESULTS_ENV] = str(results)  # where gdl.results.record() writes the script's rows
    env["GDL_CACHE_DIR"] = str(cache)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "gdl.run", str(script), "--seed", str(seed)],
                          env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{script} failed with seed {seed}:\n{done.stderr[-3000:]}")
    if output is not None:
        output.extend(done.stdout.splitlines())
    PRINTED[(str(script), seed)] = done.stdout
    return seconds


def spread(values: list[float]) -> str:
    each = " ".join(f"{v:7.2f}" for v in values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{each}  | {statistics.mean(values):7.2f} ± {sd:5.2f}"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scripts", nargs="*", default=DEFAULT_SCRIPTS, help="gallery scripts")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--json", type=Path, help="also write every row here")
    parser.add_argument("--grep", type=re.compile, help="also print each run's output lines that match this")
    args = parser.parse_args(argv)

    rows: dict[tuple[str, str], dict[int, dict]] = {}  # (dataset, model) -> seed -> row
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.scripts:
            script = (ROOT / name).resolve()
            if not script.is_file():
                sys.exit(f"no such gallery script: {name}")
            for seed in args.seeds:
                results = Path(tmp) / f"{script.stem}-{seed}"
                output: list[str] = []
                seconds = run(script, seed, results, Path(tmp) / "weights", output)
                times.setdefault(name, []).append(seconds)
                print(f"{name} seed {seed}: {seconds:.1f} s", flush=True)
                for line in output if args.grep else ():
                    if args.grep.search(line):
                        print(f"  seed {seed} | {line}", flush=True)
                for row in load_results(results):
                    rows.setdefault((row["dataset"], row["model"]), {})[seed] = row

    seeds = " ".join(f"{s:>7}" for s in args.seeds)
    print(f"\nNLL per test example (nats; kind in brackets), seeds {seeds}  | mean ± sd")
    for (dataset, model), by_seed in rows.items():
        values = [by_seed[s]["nll"] for s in args.seeds if s in by_seed]
        if None not in values:
            kind = next(iter(by_seed.values()))["kind"]
            print(f"  {dataset:>8} {model + ' [' + kind + ']':<52} {spread(values)}")
    print(f"\nFD on gdl features (feature network seed 0), seeds {seeds}  | mean ± sd")
    for (dataset, model), by_seed in rows.items():
        values = [(by_seed[s].get("sample_quality") or {}).get("fd") for s in args.seeds if s in by_seed]
        if values and None not in values:
            print(f"  {dataset:>8} {model:<52} {spread(values)}")
    print("\nOrder by FD (best first) under each seed")
    for seed in args.seeds:
        scored = [
            (r["sample_quality"]["fd"], model)
            for (_, model), by_seed in rows.items()
            if (r := by_seed.get(seed)) and r.get("sample_quality")
        ]
        print(f"  seed {seed}: " + " < ".join(model for _, model in sorted(scored)))
    agreements: dict[str, dict[int, float]] = {}
    for (_, seed), printed in PRINTED.items():
        for route, value in AGREEMENT.findall(printed):
            agreements.setdefault(route, {})[seed] = float(value)
    if agreements:
        print(f"\nClassifier agrees with the prompt, seeds {seeds}  | mean ± sd")
        for route, by_seed in agreements.items():
            print(f"  {route:<61} {spread([by_seed[s] for s in args.seeds if s in by_seed])}")
    print(f"\nScript seconds, seeds {seeds}  | mean ± sd")
    for name, values in times.items():
        print(f"  {name:<61} {spread(values)}")
    if args.json:
        args.json.write_text(json.dumps(
            [{"seed": s, **r} for by_seed in rows.values() for s, r in by_seed.items()], indent=1))


if __name__ == "__main__":
    main()
