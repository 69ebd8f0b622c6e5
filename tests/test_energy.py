"""Energy-based models: the Langevin convention, the contrastive-divergence sign, scales, checks."""

import pytest
import torch
from torch import nn

import gdl
from gdl.energy import EBM, langevin


def quadratic(mean=0.0, scale=1.0):
    """E(x) = |x - mean|^2 / (2 scale^2): the energy of N(mean, scale^2 I)."""
    return lambda x: (x - mean).pow(2).sum(-1) / (2 * scale**2)


def test_langevin_on_half_squared_norm_samples_the_standard_normal():
    torch.manual_seed(0)
    x = langevin(quadratic(), torch.full((4000, 2), 3.0), steps=400, step_size=0.05)
    assert x.mean(0).abs().max() < 0.06
    assert (x.var(0) - 1).abs().max() < 0.08


def test_langevin_moves_towards_low_energy_with_the_right_spread():
    # A shifted, narrow Gaussian: a wrong sign would run away from the mean, a wrong noise
    # scale (e.g. sqrt(2 eps) with the eps/2 drift) would give twice the variance.
    torch.manual_seed(0)
    mean = torch.tensor([1.0, -2.0])
    x = langevin(quadratic(mean, 0.5), torch.zeros(4000, 2), steps=400, step_size=0.01)
    assert torch.allclose(x.mean(0), mean, atol=0.03)
    assert torch.allclose(x.var(0), torch.full((2,), 0.25), rtol=0.1)


def test_noise_scale_sets_the_temperature():
    # sigma^2 / eps = T samples exp(-E / T): T = 0.25 quarters the variance.
    torch.manual_seed(0)
    eps = 0.05
    x = langevin(quadratic(), torch.zeros(4000, 2), steps=400, step_size=eps,
                 noise_scale=(0.25 * eps) ** 0.5)
    assert (x.var(0) - 0.25).abs().max() < 0.03


def test_langevin_works_under_no_grad_and_returns_detached_points():
    with torch.no_grad():
        x, path = langevin(quadratic(), torch.ones(5, 3), steps=4, step_size=0.1,
                           return_trajectory=True)
    assert not x.requires_grad and not path.requires_grad and path.shape == (5, 5, 3)
    assert torch.equal(path[-1], x) and torch.equal(path[0], torch.ones(5, 3))


def test_langevin_leaves_parameters_without_gradients():
    net = nn.Linear(2, 1)
    langevin(lambda x: net(x).squeeze(-1), torch.zeros(3, 2), steps=2, step_size=0.1)
    assert all(p.grad is None for p in net.parameters())


@pytest.mark.parametrize(
    "kwargs, match",
    [({"steps": -1}, "steps"), ({"step_size": 0.0}, "step_size"), ({"noise_scale": -1.0}, "noise_scale"),
     ({"grad_clip": 0.0}, "grad_clip")],
)
def test_langevin_rejects_bad_arguments(kwargs, match):
    args = {"steps": 1, "step_size": 0.1, **kwargs}
    with pytest.raises(ValueError, match=match):
        langevin(quadratic(), torch.zeros(2, 2), **args)


class Quadratic(nn.Module):
    """An 'energy network' computing |u|^2 / 2, to test the model's own sampler."""

    def forward(self, u):
        return 0.5 * u.pow(2).sum(-1, keepdim=True)


def test_model_sampler_follows_the_convention():
    torch.manual_seed(0)
    model = EBM(event_shape=(2,), bounds=(-8.0, 8.0), step_size=0.05, sample_steps=400)
    model.net = Quadratic()
    x = model.sample(4000)
    assert x.mean(0).abs().max() < 0.06
    assert (x.var(0) - 1).abs().max() < 0.08
    assert torch.allclose(model.energy(x), 0.5 * x.pow(2).sum(-1))


def test_rescaled_model_maps_bounds_to_the_unit_box_and_returns_data_scale():
    model = EBM(event_shape=(1, 2, 2), hidden=[8], bounds=(0, 16), rescale=True, sample_steps=3)
    model.net = nn.Sequential(nn.Flatten(), Quadratic())
    corners = torch.tensor([0, 16, 8, 0]).view(1, 1, 2, 2)  # integer grey levels are accepted
    assert torch.allclose(model.energy(corners), torch.tensor([0.5 * (1 + 1 + 0 + 1)]))
    s = model.sample(50)
    assert s.dtype == torch.float32 and s.min() >= 0 and s.max() <= 16
    assert model.replay.min() >= -1 and model.replay.max() <= 1


def test_loss_is_contrastive_divergence_plus_energy_regulariser():
    torch.manual_seed(0)
    model = EBM(event_shape=(2,), hidden=[8], steps=2, buffer_size=16, alpha=0.3)
    x = torch.randn(16, 2)
    before = model.replay.clone()
    terms = model.loss_terms(x)
    assert not torch.equal(before, model.replay)  # the chains were advanced and written back
    e_data = model.energy(x)
    assert torch.allclose(terms["energy_data"], e_data.mean())
    assert torch.allclose(terms["cd"], terms["energy_data"] - terms["energy_model"])
    # loss = cd + alpha (mean E+^2 + mean E-^2) >= cd + alpha (mean E+)^2 + alpha (mean E-)^2
    lower = terms["cd"] + 0.3 * (terms["energy_data"] ** 2 + terms["energy_model"] ** 2)
    assert terms["loss"] >= lower - 1e-6


def test_training_lowers_the_energy_of_the_data():
    # Data in a blob at (2, 2): after training, the data must sit in a valley the chains find.
    torch.manual_seed(0)
    x = torch.randn(512, 2) * 0.3 + 2.0
    model = EBM(event_shape=(2,), hidden=[32, 32], steps=20, step_size=0.05, buffer_size=256)
    history = gdl.fit(model, x, steps=150, batch_size=64, lr=5e-3, seed=0, log_every=0)
    assert history.extra["energy_data"][-1] < history.extra["energy_model"][0]
    far = torch.tensor([[-2.0, -2.0], [2.0, -2.0], [-2.0, 2.0]])
    assert model.energy(torch.tensor([[2.0, 2.0]])) < model.energy(far).min()
    # Chains from uniform noise on [-4, 4]^2 gather near the blob: uniform points would land
    # within distance 1 of it with probability pi / 64 < 0.05.
    samples = model.sample(500, steps=100)
    assert ((samples - 2.0).norm(dim=1) < 1).float().mean() > 0.25


@pytest.mark.parametrize(
    "kwargs, match",
    [({"bounds": (1.0, 1.0)}, "bounds"), ({"alpha": -1.0}, "alpha"), ({"steps": 0}, "steps"),
     ({"step_size": -0.1}, "step_size"), ({"buffer_size": 0}, "buffer_size"),
     ({"reinit": 1.5}, "reinit"), ({"noise_scale": -1.0}, "noise_scale"),
     ({"event_shape": ()}, "event_shape"), ({"data_noise": -0.1}, "data_noise")],
)
def test_bad_hyperparameters_are_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EBM(**kwargs)


def test_wrong_shape_is_a_clear_error():
    model = EBM(event_shape=(2,), hidden=[8])
    with pytest.raises(ValueError, match="shape"):
        model.energy(torch.zeros(3, 3))


def test_registered_as_an_unnormalised_energy_model():
    assert (EBM.family, EBM.density) == ("energy", "unnormalised")
    assert gdl.EBM is EBM
    with pytest.raises(AttributeError, match="energy"):
        EBM().log_prob


def test_nan_input_is_a_clear_error_not_a_nan_energy():
    model = EBM(event_shape=(2,), hidden=[8], steps=2, buffer_size=16)
    x = torch.randn(4, 2)
    x[1, 0] = float("nan")
    replay = model.replay.clone()
    for method in (model.energy, model.loss):
        with pytest.raises(ValueError, match="x must be finite"):
            method(x)
    assert torch.equal(model.replay, replay)  # the rejected loss ran no chain
