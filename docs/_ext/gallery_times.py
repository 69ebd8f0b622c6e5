"""Print the run time of every gallery script from sphinx-gallery's ``sg_execution_times.rst``
files, next to the time budget each script states in its docstring ("Time budget: N s")."""

import re
import sys
from pathlib import Path

docs = Path(sys.argv[1] if len(sys.argv) > 1 else "docs")
gallery = docs.parent / "gallery"
rows = []
for report in sorted((docs / "auto_examples").glob("*/sg_execution_times.rst")):
    for name, minutes, seconds in re.findall(
        r":ref:`sphx_glr_auto_examples_\w+?_(plot_\w+?)\.py`.*?\n\s+- (\d+):(\d+\.\d+)", report.read_text()
    ):
        section = report.parent.name
        source = gallery / section / f"{name}.py"
        budget = re.search(r"Time budget: (\d+) s", source.read_text()) if source.exists() else None
        rows.append((f"{section}/{name}.py", int(minutes) * 60 + float(seconds), budget and int(budget[1])))
if not rows:
    print("no gallery timings yet (the gallery has not been executed)")
    sys.exit(0)
print("gallery script times (this build or the last one that ran the script):")
for path, t, budget in rows:
    verdict = "" if budget is None else ("within" if t <= budget else "OVER") + f" its {budget} s budget"
    print(f"  {path:55} {t:7.1f} s  {verdict}")
print(f"  {'total':55} {sum(t for _, t, _ in rows):7.1f} s")
