"""The conclusion page (docs/_ext/gdl_conclusion.py) lists every registered model and every
gallery script, including those that later chapters add."""

import sys
from pathlib import Path

import pytest

import gdl
from gdl.taxonomy import FAMILIES, REGISTRY

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs" / "_ext"))
conclusion = pytest.importorskip("gdl_conclusion")  # needs sphinx and docutils, the docs extra


def _rows():
    """Two results rows as gdl.results.record writes them."""
    common = dict(dataset="digits", params=10, note="", time="", sample_quality=None, bits_per_dim=None)
    return [
        dict(common, model="DDPM (ε-network)", model_class="DDPM", nll=80.0, kind="bound", train_seconds=12.0,
             sample_seconds_per_100=0.5, source="diffusion/plot_02_ddpm_digits.py",
             sample_quality={"fd": 40.0, "precision": 0.8, "recall": 0.7}),
        dict(common, model="GAN", model_class="DCGAN", nll=None, kind="none", train_seconds=5.0,
             sample_seconds_per_100=0.01, source="gan/plot_02_dcgan_digits.py",
             sample_quality={"fd": 60.0, "precision": 0.7, "recall": 0.5}),
    ]


@pytest.mark.parametrize("results", [[], _rows()])
def test_every_registered_model_and_every_gallery_script_appears(results):
    gdl.import_all()
    rows = conclusion._with_class(results)
    models = conclusion.models_table(rows, REGISTRY)
    for name in REGISTRY:
        assert f"`{name}`" in models, name
    scripts = conclusion.scripts_table(rows)
    on_disk = sorted(p.relative_to(ROOT / "gallery").as_posix() for p in (ROOT / "gallery").glob("*/plot_*.py"))
    assert on_disk, "no gallery scripts found"
    for source in on_disk:
        assert f"`{source} </auto_examples/" in scripts, source
    families = conclusion.families_table(rows, FAMILIES)
    for f in FAMILIES.values():
        assert f.name in families


def test_measured_rows_reach_the_tables_and_the_chart(tmp_path):
    gdl.import_all()
    rows = conclusion._with_class(_rows())
    assert "80.0 nats (bound)" in conclusion.models_table(rows, REGISTRY)
    assert "80.0 (bound, DDPM (ε-network))" in conclusion.families_table(rows, FAMILIES)
    assert "| DDPM (ε-network) |" in conclusion.scripts_table(rows)
    assert conclusion.draw_chart(rows, tmp_path / "chart.png") == 3  # one NLL point, two quality points
    assert (tmp_path / "chart.png").stat().st_size > 0
