"""The built site in a real browser: maths typeset, images load, gallery, search, no errors.

Chromium (Debian's ``/usr/bin/chromium``) loads the site from a server on 127.0.0.1; every
request to any other address is blocked and recorded, so the site must work offline.
"""

import functools
import math
import os
import http.server
import re
import threading
from pathlib import Path

import pytest

# GDL_SITE: another build to test (a noplot build, for the pages that need no gallery).
SITE = Path(os.environ.get("GDL_SITE", Path(__file__).resolve().parent.parent / "docs" / "_build" / "html"))
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]

pytestmark = pytest.mark.browser

#: Pages to check, and whether each must show typeset maths.
PAGES = {
    "index.html": True,
    "taxonomy.html": True,
    "leaderboard.html": True,
    "chapters/01-generative-modeling.html": True,
    "chapters/02-deep-learning.html": True,
    "chapters/03-vae.html": True,
    "chapters/04-gan.html": True,
    "api/gan.html": True,
    "auto_examples/gan/plot_01_gan_8gaussians.html": True,
    "auto_examples/gan/plot_02_dcgan_digits.html": True,
    "auto_examples/gan/plot_03_conditional_gan.html": True,
    "auto_examples/gan/plot_06_vqgan.html": True,
    "auto_examples/compare/plot_01_sample_quality.html": True,
    "chapters/05-autoregressive.html": True,
    "chapters/06-flows.html": True,
    "chapters/07-ebm.html": True,
    "chapters/09-transformers.html": True,
    "auto_examples/index.html": False,
    "auto_examples/autoregressive/plot_01_causal_conv_arm.html": True,
    "auto_examples/autoregressive/plot_02_made.html": True,
    "auto_examples/autoregressive/plot_03_pixelcnn.html": True,
    "auto_examples/autoregressive/plot_04_pixelcnn_fashion.html": False,
    "auto_examples/autoregressive/plot_05_lstm_text.html": False,
    "auto_examples/autoregressive/plot_06_gpt.html": True,
    "auto_examples/latent/plot_01_vae_digits.html": True,
    "auto_examples/latent/plot_04_vqvae.html": True,
    "auto_examples/data/plot_01_datasets.html": True,
    "api/autoregressive.html": True,
    "scale.html": True,
    "api/latent.html": True,
    "api/energy.html": True,
    "auto_examples/energy/plot_01_ebm_2d.html": True,
    "auto_examples/energy/plot_02_ebm_digits.html": True,
    "auto_examples/diffusion/plot_01_score_2d.html": True,
    "chapters/08-diffusion.html": True,
    "api/diffusion.html": True,
    "auto_examples/diffusion/plot_02_ddpm_digits.html": True,
    "auto_examples/diffusion/plot_03_ddim.html": True,
    "api/flows.html": True,
    "auto_examples/flows/plot_01_realnvp_moons.html": True,
    "auto_examples/flows/plot_02_flows_digits.html": True,
    "auto_examples/flows/plot_03_maf_vs_realnvp.html": True,
    "auto_examples/flows/plot_04_variational_dequantization.html": True,
    "chapters/12-world-models.html": True,
    "api/world_models.html": True,
    "auto_examples/world_models/plot_01_vision_and_memory.html": True,
    "auto_examples/world_models/plot_02_controller_in_the_dream.html": True,
    "chapters/11-music.html": True,
    "api/music.html": False,
    "auto_examples/music/plot_01_music_transformer.html": True,
    "auto_examples/music/plot_02_musegan.html": True,
    "references.html": False,
    "chapters/10-advanced-gans.html": True,
    "chapters/13-multimodal.html": True,
    "chapters/14-conclusion.html": False,
}


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    if not (SITE / "index.html").exists():
        pytest.fail(f"the site is not built ({SITE} has no index.html): run `make site` first")
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run `make site` (it installs it) or apt-get install chromium")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def visit(browser, server):
    """Open a page; return (page, console errors, blocked outside requests)."""
    context = browser.new_context()
    opened = []

    def go(path):
        page = context.new_page()
        errors, blocked = [], []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))

        def route(r):
            if r.request.url.startswith(server):
                r.continue_()
            else:
                blocked.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.goto(server + path, wait_until="load")
        opened.append(page)
        return page, errors, blocked

    yield go
    context.close()


def wait_for_mathjax(page):
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
    page.evaluate("() => MathJax.startup.promise")


@pytest.mark.parametrize("path", sorted(PAGES))
def test_page_renders_offline(visit, path):
    page, errors, blocked = visit(path)
    if PAGES[path]:
        wait_for_mathjax(page)
        assert page.locator("mjx-container").count() > 0, "no typeset maths"
        assert page.locator("mjx-merror").count() == 0, "MathJax reported a TeX error"
    page.wait_for_load_state("networkidle")
    broken = page.evaluate(
        "() => Array.from(document.images)"
        ".filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
    )
    assert broken == []
    assert errors == []
    assert blocked == [], "the page asked for outside resources"


@pytest.mark.parametrize("script", ["plot_01_music_transformer", "plot_02_musegan"])
def test_music_pages_play_their_audio_offline(visit, script):
    page, errors, blocked = visit(f"auto_examples/music/{script}.html")
    players = page.locator("audio")
    assert players.count() >= 2
    sources = players.evaluate_all("els => els.map(e => e.getAttribute('src'))")
    assert all(s.startswith("data:audio/wav;base64,") for s in sources)
    assert page.locator("a[download$='.mid']").count() >= 2
    assert errors == [] and blocked == []


def test_gallery_shows_thumbnails(visit):
    page, _, _ = visit("auto_examples/index.html")
    thumbs = page.locator(".sphx-glr-thumbcontainer img")
    assert thumbs.count() >= 2
    widths = thumbs.evaluate_all("els => els.map(e => e.naturalWidth)")
    assert all(w > 0 for w in widths)


def test_search_finds_a_model_by_name(visit):
    page, errors, _ = visit("search.html?q=CausalConvARM")
    results = page.locator("#search-results ul.search li")
    results.first.wait_for(timeout=15_000)
    assert "autoregressive" in " ".join(results.all_inner_texts()).lower()
    assert errors == []


def test_leaderboard_lists_the_arm_with_a_measured_number(visit):
    page, _, _ = visit("leaderboard.html")
    rows = page.locator("table tbody tr").all_inner_texts()
    arm = [r for r in rows if "Causal-conv ARM" in r]
    assert len(arm) == 1
    nll = float(re.split(r"\s+", arm[0].split("ARM", 1)[1].strip())[0])
    assert 0 < nll < 64 * math.log(17)  # better than a uniform guess over the 17 levels


def test_taxonomy_table_is_generated_from_the_package(visit):
    page, _, _ = visit("taxonomy.html")
    wait_for_mathjax(page)
    text = page.locator("article").inner_text()
    for family in ("Autoregressive models", "Normalizing flows", "Energy-based models"):
        assert family in text
    assert "CausalConvARM" in text


def _pages(*patterns):
    return sorted({p.relative_to(SITE).as_posix() for pat in patterns for p in SITE.glob(pat)})


#: What a reader sees first and reads longest; derived from the built site, so new chapters count.
READING_PAGES = ["index.html", "taxonomy.html", *_pages("chapters/*.html")]

OVERFLOW_JS = """() => {
  const wide = [];
  for (const c of document.querySelectorAll('article mjx-container[display="true"]')) {
    const m = c.querySelector('mjx-math');
    if (m && m.getBoundingClientRect().width > c.getBoundingClientRect().width + 1)
      wide.push('equation: ' + c.textContent.slice(0, 60));
  }
  for (const p of document.querySelectorAll('article pre')) {
    if (p.scrollWidth > p.clientWidth + 1) wide.push('code: ' + p.textContent.slice(0, 60));
  }
  return wide;
}"""


@pytest.mark.parametrize("path", READING_PAGES)
def test_nothing_wider_than_its_column_at_1280(browser, server, path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server + path, wait_until="load")
    if page.locator("script[src*='mathjax']").count():
        wait_for_mathjax(page)
    wide = page.evaluate(OVERFLOW_JS)
    page.close()
    assert wide == [], f"{len(wide)} display equations or code blocks wider than the column"


@pytest.mark.parametrize("path", _pages("auto_examples/*/plot_*.html"))
def test_gallery_output_wraps(browser, server, path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server + path, wait_until="load")
    cut = page.evaluate(
        "() => Array.from(document.querySelectorAll('.sphx-glr-script-out pre'))"
        ".filter(p => p.scrollWidth > p.clientWidth + 1).map(p => p.textContent.slice(0, 60))"
    )
    page.close()
    assert cut == [], f"{len(cut)} output blocks cut off"


@pytest.mark.parametrize("path", ["index.html", "leaderboard.html", *_pages("chapters/*.html")[:1]])
def test_no_console_message_at_all(browser, server, path):
    """Not an error, not a warning, not a 404 for a favicon: the console stays empty."""
    page = browser.new_page()
    messages = []
    page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: messages.append(str(e)))
    page.on("response", lambda r: messages.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(server + path, wait_until="networkidle")
    page.close()
    assert messages == []


def test_api_shows_import_paths(visit):
    page, _, _ = visit("api/latent.html")
    signatures = " ".join(page.locator("dt.sig-object").all_inner_texts())
    assert "gdl.latent.BetaVAE" in signatures
    assert "gdl.latent.vae.BetaVAE" not in signatures


# -- The leaderboard to explore: sortable, filterable, with its rows as CSV ------------------------


def _leaderboard(visit):
    page, errors, blocked = visit("leaderboard.html")
    page.locator(".datatable-wrapper table.gdl-leaderboard").first.wait_for(timeout=15_000)
    return page, errors, blocked


def _column(page, header):
    """The texts of one column of the first leaderboard table, in the order shown."""
    return page.evaluate(
        """(header) => {
          const t = document.querySelector('table.gdl-leaderboard');
          const i = Array.from(t.tHead.rows[0].cells).findIndex(c => c.textContent.trim() === header);
          return Array.from(t.tBodies[0].rows).map(r => r.cells[i].textContent.trim());
        }""",
        header,
    )


def test_leaderboard_sorts_when_a_header_is_clicked(visit):
    page, errors, blocked = _leaderboard(visit)
    header = "FD on gdl features"
    before = _column(page, header)
    numbers = [float(v) for v in before if v]
    assert len(numbers) >= 2, "the baselines alone give two FD values"
    page.locator("table.gdl-leaderboard").first.locator("th", has_text=header).click()
    ascending = [float(v) for v in _column(page, header) if v]
    assert ascending == sorted(numbers)
    assert _column(page, header)[: len(numbers)] == [v for v in _column(page, header) if v], "blanks sort last"
    page.locator("table.gdl-leaderboard").first.locator("th", has_text=header).click()
    assert [float(v) for v in _column(page, header) if v] == sorted(numbers, reverse=True)
    assert errors == [] and blocked == []


def test_leaderboard_filters_by_kind_and_text(visit):
    page, _, _ = _leaderboard(visit)
    total = len(_column(page, "Model"))
    page.locator(".gdl-kind-select select").first.select_option("baseline")
    assert all("baseline" in m for m in _column(page, "Model"))
    page.locator(".gdl-kind-select select").first.select_option("exact")
    kinds = _column(page, "Kind")
    assert kinds and set(kinds) == {"exact"}
    page.locator(".gdl-kind-select select").first.select_option("")
    assert len(_column(page, "Model")) == total
    page.locator(".datatable-input").first.fill("Independent pixels")
    page.wait_for_timeout(500)
    assert [m.startswith("Independent pixels") for m in _column(page, "Model")] == [True]


def test_leaderboard_kinds_are_badges_with_a_legend(visit):
    page, _, _ = _leaderboard(visit)
    table = page.locator("table.gdl-leaderboard").first
    badges = set(table.locator(".gdl-kind").all_inner_texts())
    legend = set(page.locator("article li .gdl-kind").all_inner_texts())
    assert badges and badges <= legend
    assert "Test NLL (nats/example)" in table.locator("thead").inner_text()
    assert page.locator("article").inner_text().count("A blank cell means") == page.locator(
        "table.gdl-leaderboard").count()


def test_leaderboard_csv_downloads_the_rows_of_the_table(visit):
    import csv
    import io

    page, _, _ = _leaderboard(visit)
    link = page.locator("a.gdl-csv").first
    with page.expect_download() as info:
        link.click()
    rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text())))
    models = [m.replace("baseline", "").strip() for m in _column(page, "Model")]
    assert [r["model"] for r in rows] == models
    nll = _column(page, "Test NLL (nats/example)")
    assert [f"{float(r['nll_nats_per_example']):.2f}" if r["nll_nats_per_example"] else "" for r in rows] == nll


def test_leaderboard_has_the_baselines(visit):
    page, _, _ = _leaderboard(visit)
    models = _column(page, "Model")
    pixels = [i for i, m in enumerate(models) if m.startswith("Independent pixels")]
    assert len(pixels) == 1 and any(m.startswith("Real digits") for m in models)
    nll = float(_column(page, "Test NLL (nats/example)")[pixels[0]])
    assert 100 < nll < 64 * math.log(17)  # chapter 1's 106.47, computed at build time


# -- Chapters: a figure from the package, their gallery examples; gallery pages link back ----------


@pytest.mark.parametrize("path", _pages("chapters/[0-9][0-9]-*.html"))
def test_chapter_has_a_figure_drawn_from_the_package(visit, path):
    page, errors, _ = visit(path)
    page.wait_for_load_state("networkidle")
    sizes = page.locator("figure[id^='fig-'] img").evaluate_all(
        "els => els.map(e => e.naturalWidth)")
    assert sizes and all(w > 0 for w in sizes)
    assert errors == []


# Chapter 2 (deep learning) has no gallery section of its own; chapter 14 lists every script in a table.
@pytest.mark.parametrize("path", [p for p in _pages("chapters/*.html") if not re.search(r"/(02|14)-|index", p)])
def test_chapter_lists_its_gallery_examples(visit, path):
    page, _, _ = visit(path)
    cards = page.locator(".gdl-examples a[href*='auto_examples/']")
    assert cards.count() >= 1


@pytest.mark.parametrize("path", _pages("auto_examples/*/plot_*.html"))
def test_gallery_page_links_back_to_its_chapter(visit, path):
    page, _, _ = visit(path)
    links = page.locator(".gdl-backlinks a[href*='chapters/']")
    assert links.count() >= 1


# -- Home page --------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [1280, 390])
def test_home_cards_fit(browser, server, width):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(server + "index.html", wait_until="load")
    wait_for_mathjax(page)
    cut = page.evaluate(
        """() => Array.from(document.querySelectorAll('.sd-card, .sd-card pre, .sd-card mjx-container'))
          .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.className + ': ' + e.textContent.slice(0, 40))""")
    page.close()
    assert cut == []


def test_home_has_one_search_box_and_one_title(visit):
    page, _, _ = visit("index.html")
    boxes = page.locator("input[type=search]:visible, button.search-button-field:visible, "
                         "button.search-button:visible, .search-button__button:visible")
    assert boxes.count() == 1
    sidebar = page.locator(".bd-sidebar-primary").inner_text()
    assert sidebar.count("Generative Deep Learning") == 1


def test_search_snippets_have_no_theme_chrome():
    index = (SITE / "searchindex.js").read_text()
    for chrome in ("System Settings", "Light Dark", "Ctrl+K"):
        assert chrome not in index


def test_no_empty_timing_page():
    for page in SITE.rglob("sg_execution_times.html"):
        assert "0 files" not in page.read_text(), f"{page.relative_to(SITE)} lists no file"
