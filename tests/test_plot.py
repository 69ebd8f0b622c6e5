"""Figure helpers: shapes checked, densities integrate, curves drawn."""

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from gdl import plot  # noqa: E402
from gdl.train import History  # noqa: E402


def test_density_of_a_standard_gaussian_has_unit_mass_on_the_grid():
    def log_prob(x):
        return -0.5 * (x**2).sum(-1) - math.log(2 * math.pi)

    ax = plot.density_2d(log_prob, lim=5.0, resolution=201, title="N(0, I)")
    assert ax.grid_mass == pytest.approx(1.0, abs=1e-3)
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title() == "N(0, I)"
    plt.close("all")


def test_image_grid_tiles_images_and_rejects_colour():
    ax = plot.image_grid(torch.arange(6 * 4).view(6, 1, 2, 2), nrow=3, levels=24, pad=1)
    canvas = ax.get_images()[0].get_array()
    assert canvas.shape == (2 * 3 + 1, 3 * 3 + 1)  # 2 rows, 3 columns, 1-pixel gaps
    assert canvas[1, 1] == 0 and canvas[1 + 3, 1 + 6] == 5 * 4  # first pixel of images 0 and 5
    with pytest.raises(ValueError, match="1 channel"):
        plot.image_grid(torch.zeros(2, 3, 4, 4))
    plt.close("all")


def test_training_curves_draws_train_and_validation():
    h = History(steps=list(range(1, 101)), train_loss=[1.0 / s for s in range(1, 101)],
                val_steps=[50, 100], val_metric=[0.1, 0.2], best_step=50)
    ax = plot.training_curves(h, smooth=10)
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[:2] == ["train (running mean)", "validation"]
    assert len(ax.get_lines()[0].get_xdata()) == 91
    plt.close("all")


def test_scatter_checks_its_input():
    with pytest.raises(ValueError, match=r"points must have shape \(n, 2\)"):
        plot.scatter_2d(torch.zeros(5, 3))


def test_logged_draws_each_series_with_its_label():

    h = History(steps=[1, 2, 3, 4], train_loss=[4.0, 3.0, 2.0, 1.0], extra={"generator": [1.0, 2.0, 3.0, 4.0]})
    ax = plot.logged(h, {"loss": "D", "generator": "G"}, smooth=2, title="t", ylabel="y")
    assert [line.get_label() for line in ax.get_lines()] == ["D", "G"]
    assert list(ax.get_lines()[0].get_ydata()) == [3.5, 2.5, 1.5]
