"""Sphinx configuration of the gdl site: MyST pages, an executed gallery, offline maths."""

import os
import sys
from pathlib import Path

# Before anything imports torch: small models train ~10x faster on one thread on a 2-core machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")

HERE = Path(__file__).parent.resolve()
sys.path.insert(0, str(HERE / "_ext"))

# Gallery scripts call gdl.results.record(); results land here and feed the leaderboard page.
RESULTS_DIR = HERE / "auto_examples" / "_results"
os.environ["GDL_RESULTS_DIR"] = str(RESULTS_DIR)
# Trained weights that one script stores (gdl.fit(cache=True)) and another loads: one cache per
# build folder, so that a clean build trains everything once.
os.environ["GDL_CACHE_DIR"] = str(HERE / "_build" / "weights")

import gdl  # noqa: E402

project = "gdl"
author = "the gdl developers"
copyright = "2026, the gdl developers"
release = gdl.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx_gallery.gen_gallery",
    "sphinx_design",
    "sphinx_copybutton",
    "sphinxcontrib.bibtex",
    "gdl_sphinx",
    "gdl_refs",
    "gdl_conclusion",
    "gdl_leaderboard",
    "gdl_chapters",
]

exclude_patterns = [
    "_build",
    "Thumbs.db",
    ".DS_Store",
    # sphinx-gallery writes notebooks next to its pages; the pages are what we build.
    "auto_examples/*.ipynb",
    "auto_examples/**/*.ipynb",
    "auto_examples/**/*.py",
    "auto_examples/*.py",
    "**/.jupyter_cache",
    # Timing pages left by builds made before write_computation_times was turned off.
    "sg_execution_times.rst",
    "auto_examples/sg_execution_times.rst",
]
suppress_warnings = ["mystnb.unknown_mime_type"]

# -- MyST and myst-nb ------------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist", "substitution"]
myst_heading_anchors = 3
nb_execution_mode = "cache"
nb_execution_cache_path = str(HERE / "_build" / ".jupyter_cache")
nb_execution_timeout = 300
nb_execution_raise_on_error = True

# -- Maths, served from the site (no CDN) ---------------------------------------------------------
MATHJAX = HERE / "_static" / "mathjax" / "tex-chtml.js"
if not MATHJAX.exists():
    raise RuntimeError(
        f"{MATHJAX} is missing: run `make mathjax` (or `make site`), which unpacks MathJax 3 from npm."
    )
mathjax_path = "mathjax/tex-chtml.js"

# -- API reference ---------------------------------------------------------------------------------
# Every reference must link: an unresolved one is a warning, and warnings fail the build (-W).
# docs/_ext/gdl_refs.py resolves gdl's import paths and torch's short names; what is left here
# are gaps of other projects' inventories and names that are not API objects at all.
nitpicky = True
nitpick_ignore_regex = [
    # Private base classes that "Bases:" lines name; they are not part of the API.
    ("py:class", r"gdl(\..+)?\._\w+"),
]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_custom_sections = [("Shapes", "notes_style"), ("References", "notes_style")]

# Links to torch / numpy / matplotlib. Offline (CI), the small inventories in _inventories/
# are used; online, the projects' own inventories are tried first.
intersphinx_mapping = {
    name: (url, (url + "objects.inv", str(HERE / "_build" / "inventories" / f"{name}.inv")))
    for name, url in {
        "python": "https://docs.python.org/3/",
        "torch": "https://docs.pytorch.org/docs/stable/",
        "numpy": "https://numpy.org/doc/stable/",
        "matplotlib": "https://matplotlib.org/stable/",
    }.items()
}
intersphinx_timeout = 3

# -- Bibliography ----------------------------------------------------------------------------------
bibtex_bibfiles = ["references.bib"]
bibtex_default_style = "plain"
bibtex_reference_style = "author_year"

# -- Gallery: scripts train at build time ----------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": ["../gallery"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    # Families in the order of the taxonomy; the comparison across families comes last, after
    # every script has recorded its results.
    "subsection_order": [
        "../gallery/data",
        "../gallery/autoregressive",
        "../gallery/flows",
        "../gallery/latent",
        "../gallery/energy",
        "../gallery/diffusion",
        "../gallery/gan",
        "../gallery/music",
        "*",
        "../gallery/compare",
    ],
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("gdl",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"gdl": None},
    "image_scrapers": ("gdl_sphinx.tight_matplotlib_scraper", "gdl_sphinx.audio_scraper"),
    # Every figure also at twice its resolution, for dense screens.
    "image_srcset": ["2x"],
    # Before each script: matplotlib's defaults, then one thread and the run's seed (GDL_SEED).
    "reset_modules": ("matplotlib", "gdl_sphinx.reset_gdl"),
    "capture_repr": (),
    "ignore_repr_types": r"matplotlib\.(text|axes|figure|legend|lines|collections|image)",
    "remove_config_comments": True,
    "min_reported_time": 0,
    # The scripts run before sphinx-gallery walks the gallery, on every core and across sections
    # (docs/_ext/gallery_run.py); GDL_GALLERY_JOBS=1 leaves them to sphinx-gallery, one at a time.
    "parallel": False,
    "show_memory": False,
    "download_all_examples": False,
    # Each page states its own run time (gdl_sphinx.state_run_time) and `make times` lists them
    # all; sphinx-gallery's timing pages would list only the scripts rerun by the last build.
    "write_computation_times": False,
}

# -- HTML ------------------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = "gdl: Generative Deep Learning, executable"
html_static_path = ["_static"]
html_css_files = ["gdl.css"]
# Loaded before the theme's scripts (priority below the default 500).
html_js_files = [("quiet-console.js", {"priority": 100})]
# Without a favicon the browser asks for /favicon.ico and logs a 404 in the console.
html_favicon = "_static/favicon.svg"
html_theme_options = {
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "use_download_button": True,
    "home_page_in_toc": True,
}
html_last_updated_fmt = None
# The theme reads its colour mode from here; left empty it logs a console error.
html_context = {"default_mode": "light"}
# One search box (the header's) and the site's title once: the sidebar shows the title above
# its navigation, which then starts with the first section rather than the home page again.
html_sidebars = {"**": ["navbar-logo.html", "icon-links.html", "sbt-sidebar-nav.html"]}
html_theme_options["home_page_in_toc"] = False
# The sidebar lists the top-level pages and opens only the branch of the page being read: the
# whole tree (about a hundred links) on every page made it long to scan and slow to write.
html_theme_options["collapse_navbar"] = True
