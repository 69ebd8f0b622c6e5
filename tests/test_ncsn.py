"""Noise-conditional score networks: the DSM minimiser, a trained score, annealed Langevin."""

import pytest
import torch

import gdl
from gdl.diffusion import NCSN, annealed_langevin, denoising_score_matching, geometric_sigmas

MU = torch.tensor([1.0, -1.0])
S = 0.5  # data: N(MU, S^2 I)


def analytic_score(x, sigma):
    """Score of the noised Gaussian N(MU, (S^2 + sigma^2) I): -(x - MU) / (S^2 + sigma^2)."""
    return -(x - MU) / (S**2 + sigma[:, None] ** 2)


@pytest.mark.parametrize("sigma", [0.3, 1.0, 3.0])
def test_dsm_loss_is_minimised_by_the_score_of_the_noised_data(sigma):
    # The loss is quadratic in a for the family a * s*(x), and (with common random numbers)
    # exactly a parabola in a: its minimiser must be a = 1.
    torch.manual_seed(0)
    x = MU + S * torch.randn(200_000, 2)
    z = torch.randn_like(x)
    sig = torch.tensor(sigma)

    def loss(a, score=analytic_score):
        return denoising_score_matching(lambda y, s: a * score(y, s), x, sig, z).mean()

    l0, l1, l2 = loss(0.0), loss(1.0), loss(2.0)
    a_best = 0.5 * (l0 - l2) / (l0 - 2 * l1 + l2) + 1  # vertex of the parabola through a = 0, 1, 2
    assert abs(a_best - 1) < 0.03

    # The score of the clean data, -(x - MU) / S^2, is not the minimiser.
    def clean(y, s):
        return -(y - MU) / S**2

    assert loss(1.0, clean) > l1 + 0.01


def test_a_trained_ncsn_matches_the_analytic_score():
    torch.manual_seed(0)
    x = MU + S * torch.randn(2000, 2)
    model = NCSN(event_shape=(2,), hidden=[64, 64], sigma_max=1.0, sigma_min=0.1, num_sigmas=4)
    gdl.fit(model, x, steps=800, batch_size=256, lr=3e-3, seed=0, log_every=0)
    for sigma in model.sigmas:
        points = MU + (S**2 + sigma**2) ** 0.5 * torch.randn(1000, 2)  # where p_sigma has mass
        level = sigma.expand(len(points))
        with torch.no_grad():
            error = (model.score(points, sigma) - analytic_score(points, level)).pow(2).sum(-1)
        relative = error.mean() / analytic_score(points, level).pow(2).sum(-1).mean()
        assert relative < 0.05, f"sigma={sigma:.2f}: relative error {relative:.3f}"


@pytest.mark.parametrize("denoise", [False, True])
def test_annealed_langevin_on_the_analytic_score_recovers_the_gaussian(denoise):
    torch.manual_seed(0)
    # The step at the last level, 0.01 here, must be large enough for the chains to settle there.
    sigmas = geometric_sigmas(1.0, 0.1, 5)
    x = annealed_langevin(analytic_score, torch.randn(5000, 2), sigmas, step_size=0.01,
                          steps_per_sigma=200, denoise=denoise)
    # Without denoising, the last level's N(MU, S^2 + sigma_L^2); Tweedie's step shrinks the
    # variance to S^4 / (S^2 + sigma_L^2).
    var = S**4 / (S**2 + 0.1**2) if denoise else S**2 + 0.1**2
    assert torch.allclose(x.mean(0), MU, atol=0.03)
    assert torch.allclose(x.var(0), torch.full((2,), var), rtol=0.08)


def test_sample_trajectory_starts_wide_and_ends_at_the_samples():
    torch.manual_seed(0)
    model = NCSN(event_shape=(2,), hidden=[8], num_sigmas=3, steps_per_sigma=2)
    x, path = model.sample(200, return_trajectory=True)
    assert path.shape == (4, 200, 2) and torch.equal(path[-1], x)
    assert 2.5 < path[0].std() < 3.5  # N(0, sigma_max^2) with sigma_max = 3


def test_score_accepts_a_scalar_or_one_sigma_per_example():
    model = NCSN(event_shape=(2,), hidden=[8])
    x = torch.randn(4, 2)
    a = model.score(x, 0.5)
    b = model.score(x, torch.full((4,), 0.5))
    assert torch.allclose(a, b)
    with pytest.raises(ValueError, match="sigma"):
        model.score(x, 0.0)
    with pytest.raises(ValueError, match="sigma"):
        model.score(x, torch.ones(3))


@pytest.mark.parametrize(
    "kwargs, match",
    [({"sigma_min": 0.0}, "sigma_min"), ({"sigma_min": 5.0}, "sigma_min"), ({"num_sigmas": 0}, "num_sigmas"),
     ({"step_size": 0.0}, "step_size"), ({"steps_per_sigma": 0}, "steps_per_sigma"),
     ({"event_shape": (1, 2, 2)}, "event_shape")],
)
def test_bad_hyperparameters_are_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NCSN(**kwargs)


def test_registered_as_a_score_model_with_no_density():
    assert (NCSN.family, NCSN.density) == ("score", "score")
    assert gdl.NCSN is NCSN
    with pytest.raises(AttributeError, match="score"):
        NCSN().log_prob
