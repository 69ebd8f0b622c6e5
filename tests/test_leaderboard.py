"""The leaderboard's rows: baselines computed from the package, one order, the CSV the page links."""

import csv
import io
import math
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "docs" / "_ext"))
leaderboard = pytest.importorskip("gdl_leaderboard")


def test_independent_pixels_is_chapter_ones_model():
    from gdl import data

    nll, samples = leaderboard.independent_pixels("digits", num_samples=50)
    x_train, _ = data.digits("train")
    x_test, _ = data.digits("test")
    counts = torch.nn.functional.one_hot(x_train.view(-1, 64), 17).sum(0) + 1
    log_pi = (counts / counts.sum(-1, keepdim=True)).log()
    expected = -log_pi.gather(1, x_test.view(-1, 64).T).sum(0).mean().item()
    assert nll == pytest.approx(expected)
    assert 100 < nll < 64 * math.log(17)  # better than uniform, far from the models
    assert samples.shape == (50, 1, 8, 8) and samples.min() >= 0 and samples.max() <= 16


def _row(model, nll=None, fd=None, kind="exact"):
    q = None if fd is None else {"fd": fd, "precision": 0.5, "recall": 0.5, "classes_covered": 10, "num_classes": 10}
    return {"model": model, "nll": nll, "bits_per_dim": None if nll is None else nll / 64 / math.log(2),
            "kind": kind if nll is not None else "none", "sample_quality": q, "params": 10,
            "train_seconds": 1.0, "sample_seconds_per_100": 0.01, "source": "gan/plot_02_dcgan_digits.py",
            "model_class": "DCGAN"}


def test_rows_with_a_likelihood_first_then_by_fd(monkeypatch):
    monkeypatch.setattr(leaderboard, "baselines", lambda dataset: [])
    rows = leaderboard.table_rows([_row("gan", fd=50.0), _row("b", nll=90.0), _row("a", nll=80.0),
                                   _row("ebm", fd=20.0)], "digits")
    assert [r["model"] for r in rows] == ["a", "b", "ebm", "gan"]


def test_csv_has_every_row_and_column(monkeypatch):
    monkeypatch.setattr(leaderboard, "baselines", lambda dataset: [])
    rows = leaderboard.table_rows([_row("a", nll=80.0, fd=30.0), _row("gan", fd=50.0)], "digits")
    parsed = list(csv.DictReader(io.StringIO(leaderboard.csv_text(rows))))
    assert [r["model"] for r in parsed] == ["a", "gan"]
    assert float(parsed[0]["nll_nats_per_example"]) == 80.0 and parsed[1]["nll_nats_per_example"] == ""
    table = leaderboard.markdown_table(rows).splitlines()
    assert len(table) == 2 + len(rows) and f"({leaderboard.UNIT})" in table[0]


def test_the_unit_is_the_one_the_scripts_print():
    from gdl.results import _line, Result

    r = Result("m", "digits", 80.0, 1.8, "exact", 1, None, None, None, "", None, "")
    assert leaderboard.UNIT in _line(r)
