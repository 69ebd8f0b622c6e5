"""gdl.results: one call measures a model and writes its row; the leaderboard reads the rows back."""

import json
import math

import pytest
import torch

from gdl import data, quality, results
from gdl.autoregressive import CausalConvARM
from gdl.gan import DCGAN
from gdl.latent import VAE
from gdl.train import History


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv(results.RESULTS_ENV, str(tmp_path))
    return tmp_path


def test_record_derives_the_exact_nll_dimensions_samples_and_the_calling_script(folder, capsys):
    x, _ = data.digits("test")
    model = CausalConvARM(hidden=8, num_layers=2)
    history = History(seconds=2.5)
    r = results.record("ARM", model, x[:100], history=history, num_samples=20)
    from gdl.metrics import nll

    assert r.kind == "exact" and r.nll == pytest.approx(nll(model, x[:100]))
    assert r.bits_per_dim == pytest.approx(r.nll / (64 * math.log(2)))
    assert r.params == model.num_parameters() and r.train_seconds == 2.5
    assert r.samples.shape == (20, 1, 8, 8) and r.sample_seconds_per_100 > 0
    assert r.sample_quality["n"] == 20
    assert r.source == "test_results.py"  # the file that called record
    assert "ARM on digits test:" in capsys.readouterr().out
    (row,) = results.load_results(folder)
    assert row == json.loads(json.dumps(r.row() | {"samples_file": row["samples_file"]}))
    assert torch.equal(results.load_samples(folder, row), r.samples.float())


def test_record_derives_a_bound_from_the_elbo_and_no_likelihood_for_a_gan(folder):
    x = torch.randint(0, 4, (30, 1, 4, 4))
    vae = VAE(event_shape=(1, 4, 4), num_levels=4, latent_dim=2, hidden=[8])
    r = results.record("VAE", vae, x, dataset="toy", num_samples=0)
    assert r.kind == "bound" and r.nll > 0 and r.samples is None and r.sample_quality is None
    gan = DCGAN(latent_dim=4, width=4)
    g = results.record("GAN", gan, num_samples=50)
    assert g.kind == "none" and g.nll is None and g.sample_quality["n"] == 50
    assert g.samples.shape == (50, 1, 8, 8)


def test_a_model_with_fewer_levels_is_recorded_on_a_quantised_copy_of_its_data_set(folder):
    x, _ = data.fashion_mnist("test", levels=4)
    model = VAE(event_shape=(1, 28, 28), num_levels=4, latent_dim=2, hidden=[8])
    r = results.record("VAE", model, x[:50], dataset="fashion-mnist", num_samples=12, score=False)
    assert r.dataset == "fashion-mnist (4 levels)" and r.sample_quality is None
    assert r.samples.shape == (12, 1, 28, 28)
    (row,) = results.load_results(folder)
    assert "samples_file" not in row  # unscored samples are not kept


def test_explicit_numbers_replace_the_derived_ones_and_are_checked(folder):
    model = CausalConvARM(hidden=8, num_layers=2)
    r = results.record("ARM (IWAE)", model, nll=80.0, kind="estimate", num_samples=0)
    assert (r.nll, r.kind) == (80.0, "estimate")
    with pytest.raises(ValueError, match="kind must be one of"):
        results.record("M", model, nll=1.0, kind="guess", num_samples=0)
    with pytest.raises(ValueError, match="nll must be a finite number"):
        results.record("M", model, nll=float("nan"), kind="exact", num_samples=0)
    with pytest.raises(ValueError, match="kind= goes with nll="):
        results.record("M", model, kind="exact", num_samples=0)
    with pytest.raises(ValueError, match="a likelihood or samples"):
        results.record("M", DCGAN(latent_dim=4, width=4), num_samples=0)


def test_rows_are_ordered_by_nll_then_fd_and_written_only_inside_the_build(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(results.RESULTS_ENV, raising=False)
    model = CausalConvARM(hidden=8, num_layers=2)
    results.record("M", model, nll=88.7, kind="exact", num_samples=0)
    assert "88.70 nats/example" in capsys.readouterr().out
    assert not list(tmp_path.iterdir())
    monkeypatch.setenv(results.RESULTS_ENV, str(tmp_path))
    x_train, _ = data.digits("train")
    results.record("Sampler", samples=x_train, nll=None, model=None, num_samples=0)
    results.record("Model A", model, nll=90.0, kind="bound", num_samples=0)
    results.record("Model B", model, nll=80.0, kind="exact", num_samples=0)
    rows = results.load_results(tmp_path)
    assert [r["model"] for r in rows] == ["Model B", "Model A", "Sampler"]
    assert rows[2]["sample_quality"]["fd"] == quality.sample_quality(x_train)["fd"]


def test_a_row_is_written_whole_or_not_at_all(folder, monkeypatch):
    model = CausalConvARM(hidden=8, num_layers=2)

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(results.torch, "save", fail)
    with pytest.raises(OSError, match="disk full"):
        results.record("ARM", model, nll=80.0, kind="exact", num_samples=20)
    assert list(folder.iterdir()) == []  # no half-written samples, no row
