"""Counts of what a reader finds cut off or unlinked on a built site (issue 21's numbers).

    python tests/benchmarks/site_counts.py [SITE]      # SITE: a built HTML folder; default
                                                       # $GDL_SITE, else docs/_build/html

Prints, from the HTML and from Chromium (Debian's /usr/bin/chromium, driven by Playwright):

* display equations wider than their column, at 1280 px and at 390 px (index, taxonomy and
  every chapter; chapters 2-9 also on their own);
* unlinked cross-references: ``<code class="xref ...">`` not inside an ``<a>``, on every page;
* gallery thumbnails that show samples, curves or something else, judged by the alt text of
  the figure the thumbnail is made from (sphinx-gallery writes the figure's titles there);
* output blocks of each gallery page wider than their column at 1280 px: the maximum and mean
  per page, and the pages with any.

On a build without the gallery's outputs (``-D plot_gallery=0``) the gallery counts are zero or
"other"; the full build gives the real ones.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import sys
import threading
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SAMPLES = re.compile(r"sampl|walk|travers|generated|drawn|dream|completion|interpolat|grid", re.I)
CURVES = re.compile(r"loss|training|curve|history|nll|bits/dim|over steps|against|vs\.? ", re.I)

WIDE_EQUATIONS_JS = """() => {
  let total = 0, wide = 0;
  for (const c of document.querySelectorAll('article mjx-container[display="true"]')) {
    const m = c.querySelector('mjx-math');
    if (!m) continue;
    total += 1;
    // wider than the column (the container is clipped to it and scrolls)
    if (m.getBoundingClientRect().width > c.getBoundingClientRect().width + 1) wide += 1;
  }
  return [total, wide];
}"""
WIDE_OUTPUT_JS = """() => Array.from(document.querySelectorAll('.sphx-glr-script-out pre, div.cell_output pre'))
  .filter(p => p.scrollWidth > p.clientWidth + 1
            || p.getBoundingClientRect().right > p.closest('article').getBoundingClientRect().right + 1).length"""


class _XrefCounter(HTMLParser):
    """Counts ``<code class="xref ...">`` elements, and those not inside an ``<a>``."""

    def __init__(self):
        super().__init__()
        self.in_a, self.total, self.unlinked, self.names = 0, 0, 0, []
        self._code_depth = 0

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if tag == "a":
            self.in_a += 1
        elif tag == "code" and "xref" in classes:
            self.total += 1
            if not self.in_a:
                self.unlinked += 1
                self._code_depth = 1
                self.names.append("")
        elif tag == "code" and self._code_depth:
            self._code_depth += 1

    def handle_endtag(self, tag):
        if tag == "a" and self.in_a:
            self.in_a -= 1
        elif tag == "code" and self._code_depth:
            self._code_depth -= 1

    def handle_data(self, data):
        if self._code_depth:
            self.names[-1] += data


def unlinked_xrefs(site: Path) -> tuple[int, int, dict[str, int]]:
    total = unlinked = 0
    where: dict[str, int] = {}
    for page in sorted(site.rglob("*.html")):
        if "_modules" in page.parts or "_sources" in page.parts:
            continue
        c = _XrefCounter()
        c.feed(page.read_text(errors="replace"))
        total += c.total
        unlinked += c.unlinked
        if c.unlinked:
            where[page.relative_to(site).as_posix()] = c.unlinked
    return total, unlinked, where


def thumbnail_kinds(site: Path) -> dict[str, str]:
    """``{section/plot_x: "samples" | "curve" | "other"}`` for every gallery page."""
    out = {}
    for page in sorted(site.glob("auto_examples/*/plot_*.html")):
        section, stem = page.parent.name, page.stem
        script = ROOT / "gallery" / section / f"{stem}.py"
        n = 1
        if script.exists():
            m = re.search(r"^# sphinx_gallery_thumbnail_number = (-?\d+)", script.read_text(), re.M)
            n = int(m[1]) if m else 1
        html = page.read_text(errors="replace")
        by_number = {}
        for tag in re.findall(r"<img\b[^>]*>", html):
            src = re.search(r'src="([^"]*)"', tag)
            alt = re.search(r'alt="([^"]*)"', tag)
            m = src and re.search(rf"sphx_glr_{re.escape(stem)}_(\d+)\.png$", src[1])
            if m and "thumb" not in src[1]:
                by_number.setdefault(int(m[1]), alt[1] if alt else "")
        if not by_number:
            out[f"{section}/{stem}"] = "other"
            continue
        alt = by_number.get(n if n > 0 else max(by_number) + 1 + n, "")
        out[f"{section}/{stem}"] = "samples" if SAMPLES.search(alt) else "curve" if CURVES.search(alt) else "other"
    return out


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def browser_counts(site: Path) -> dict:
    from playwright.sync_api import sync_playwright

    handler = functools.partial(_Quiet, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}/"
    reading = ["index.html", "taxonomy.html", *sorted(p.relative_to(site).as_posix() for p in site.glob("chapters/*.html"))]
    gallery = sorted(p.relative_to(site).as_posix() for p in site.glob("auto_examples/*/plot_*.html"))
    out = {"equations": {}, "outputs": {}}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        for width in (1280, 390):
            page = browser.new_page(viewport={"width": width, "height": 900})
            for path in reading:
                page.goto(base + path, wait_until="load")
                if page.locator("script[src*='mathjax']").count():
                    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
                    page.evaluate("() => MathJax.startup.promise")
                out["equations"][(width, path)] = page.evaluate(WIDE_EQUATIONS_JS)
            page.close()
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        for path in gallery:
            page.goto(base + path, wait_until="load")
            out["outputs"][path] = page.evaluate(WIDE_OUTPUT_JS)
        page.close()
        browser.close()
    httpd.shutdown()
    return out


def main(argv: list[str]) -> int:
    site = Path(argv[1] if len(argv) > 1 else os.environ.get("GDL_SITE", ROOT / "docs" / "_build" / "html"))
    if not (site / "index.html").exists():
        print(f"{site} has no index.html: build the site first (make site)", file=sys.stderr)
        return 2
    print(f"site: {site}")
    counts = browser_counts(site)
    for width in (1280, 390):
        rows = {path: v for (w, path), v in counts["equations"].items() if w == width}
        total, wide = (sum(v[i] for v in rows.values()) for i in (0, 1))
        ch = {p: v for p, v in rows.items() if re.match(r"chapters/0[2-9]-", p)}
        print(f"display equations wider than their column at {width} px: {wide} of {total} "
              f"(chapters 2-9: {sum(v[1] for v in ch.values())} of {sum(v[0] for v in ch.values())})")
        for path, (_, n) in rows.items():
            if n:
                print(f"    {path}: {n}")
    total, unlinked, where = unlinked_xrefs(site)
    print(f"unlinked cross-references: {unlinked} of {total}")
    for path, n in where.items():
        print(f"    {path}: {n}")
    kinds = thumbnail_kinds(site)
    tally = {k: sum(v == k for v in kinds.values()) for k in ("samples", "curve", "other")}
    print(f"thumbnails: {tally['samples']} samples, {tally['curve']} curves, {tally['other']} other, "
          f"of {len(kinds)}")
    for name, kind in kinds.items():
        if kind != "samples":
            print(f"    {name}: {kind}")
    outputs = counts["outputs"]
    if outputs:
        values = list(outputs.values())
        print(f"output blocks wider than their column at 1280 px, per gallery page: max {max(values)}, "
              f"mean {sum(values) / len(values):.2f}, over {len(values)} pages "
              f"({sum(v > 0 for v in values)} with any)")
        for path, n in outputs.items():
            if n:
                print(f"    {path}: {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
