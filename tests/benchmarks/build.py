"""Build the gallery clean, one script at a time and in parallel, side by side in one run.

Both builds run in a copy of the docs and the gallery (the site in ``docs/_build`` is left alone),
from nothing: no executed scripts, no cache of trained weights. The run prints

* the wall time of each clean build and their ratio (parallel / serial),
* the peak memory of each (the resident memory of sphinx-build and all its worker processes,
  summed, sampled twice a second),
* the time of a rebuild with nothing changed, after the parallel build,
* which scripts loaded a trained model from the cache instead of training it again, and the
  seconds of training that saved,
* the reference workload's time (``docs/_ext/gallery_times.py``) on this machine.

    python tests/benchmarks/build.py            # make bench-build

Run it on an otherwise quiet machine: it takes about the time of three clean builds, one of them
serial (three quarters of an hour to an hour on a slow 2-core machine).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
LOADED = re.compile(r"loaded the trained weights from the cache \((\w+)\.pt; trained in ([\d.]+) s\)")


def _tree_rss(pid: int) -> int:
    try:
        parent = psutil.Process(pid)
        procs = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def build(workdir: Path, jobs: int) -> tuple[float, float]:
    """One sphinx-build of ``workdir/docs`` with ``jobs`` processes for the gallery's scripts and
    for reading and writing the pages: (seconds, peak MB)."""
    env = dict(os.environ, GDL_GALLERY_JOBS=str(jobs), OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-j", str(jobs), "-b", "html",
           str(workdir / "docs"), str(workdir / "docs" / "_build" / "html")]
    peak = 0
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            done.wait(0.5)

    sampler = threading.Thread(target=sample)
    sampler.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode:
        sys.exit(f"the build failed (exit {proc.returncode}):\n{err[-3000:]}")
    return seconds, peak / 2**20


def fresh_copy(tmp: Path, name: str) -> Path:
    """A copy of the docs sources and the gallery, without any build output."""
    work = tmp / name
    ignore = shutil.ignore_patterns("_build", "auto_examples", "generated", "sg_execution_times.rst",
                                    ".jupyter_cache", "__pycache__")
    shutil.copytree(ROOT / "docs", work / "docs", ignore=ignore, symlinks=False)
    shutil.copytree(ROOT / "gallery", work / "gallery", ignore=ignore)
    return work


def cache_savings(work: Path) -> list[tuple[str, float]]:
    """The scripts that loaded a model from the cache, with the training seconds each saved."""
    saved = []
    for page in sorted((work / "docs" / "auto_examples").glob("*/plot_*.rst")):
        for _, seconds in LOADED.findall(page.read_text()):
            saved.append((f"{page.parent.name}/{page.stem}.py", float(seconds)))
    return saved


def main() -> None:
    jobs = os.cpu_count() or 1
    sys.path.insert(0, str(ROOT / "docs" / "_ext"))
    import gallery_times

    reference = gallery_times.reference_workload()
    print(f"reference workload: {reference:.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        serial_dir = fresh_copy(tmp, "serial")
        serial, serial_peak = build(serial_dir, 1)
        print(f"clean build, one script at a time:    {serial:7.1f} s, peak memory {serial_peak:6.0f} MB", flush=True)
        parallel_dir = fresh_copy(tmp, "parallel")
        parallel, parallel_peak = build(parallel_dir, jobs)
        print(f"clean build, {jobs} scripts at a time:   {parallel:7.1f} s, peak memory {parallel_peak:6.0f} MB", flush=True)
        rebuild, _ = build(parallel_dir, jobs)
        print(f"rebuild with nothing changed:         {rebuild:7.1f} s")
        print(f"parallel / serial: {parallel / serial:.2f}")
        for name, times in (("serial", serial_dir), ("parallel", parallel_dir)):
            script_total = sum(gallery_times.script_times(times / "docs").values())
            print(f"{name} build: the scripts' own times add up to {script_total:.1f} s")
        saved = cache_savings(parallel_dir)
        if saved:
            print("loaded from the cache instead of training again (parallel build):")
            for script, seconds in saved:
                print(f"  {script}: {seconds:.1f} s of training saved")
        else:
            print("no script loaded a model from the cache")


if __name__ == "__main__":
    main()
