"""Score SDEs: the VP SDE is DDPM's process in continuous time; the probability-flow likelihood."""

import math

import pytest
import torch

from gdl.diffusion import NoiseSchedule, ScoreSDE, VPSDE, cosine_betas, linear_betas


@pytest.mark.parametrize("betas", [linear_betas(1000), cosine_betas(1000), linear_betas(20)])
def test_vp_marginals_equal_ddpm_q_xt_given_x0_at_matching_times(betas):
    s = NoiseSchedule(betas)
    sde = VPSDE(s)
    T = s.num_steps
    t = torch.arange(1, T + 1) / T  # step i (0-based) sits at t = (i + 1) / T
    mean, std = sde.marginal(t)
    assert torch.allclose(mean, s.sqrt_alphas_cumprod, rtol=1e-4, atol=1e-6)
    assert torch.allclose(std, s.sqrt_one_minus_alphas_cumprod, rtol=1e-4, atol=1e-6)


def test_vp_drift_rate_is_the_derivative_of_its_marginal():
    sde = VPSDE(NoiseSchedule(linear_betas(50)))
    t = (torch.arange(50, dtype=torch.float64) + 0.5) / 50  # midpoints of the pieces
    h = 1e-4
    slope = (sde.log_mean_coef(t + h) - sde.log_mean_coef(t - h)) / (2 * h)  # d/dt log m = -beta/2
    assert torch.allclose(slope.float(), -0.5 * sde.beta(t).float(), rtol=1e-3)
    # and for the linear schedule of T = 1000, beta(t) is T beta_i, to first order in beta_i
    t = (torch.arange(1000, dtype=torch.float64) + 0.5) / 1000
    beta = VPSDE(NoiseSchedule(linear_betas(1000))).beta(t)
    assert torch.allclose(beta, 1000 * linear_betas(1000), rtol=0.012)
    lam = sde.noise_level(t)
    assert torch.allclose(sde.time_of(lam), t)


class GaussianScore(ScoreSDE):
    """Data N(mu, s^2 I) on the [-1, 1] scale: p_t = N(m mu, (m^2 s^2 + std^2) I), score in closed form."""

    def __init__(self, mu, s, **kwargs):
        super().__init__(hidden=[4], **kwargs)
        self.mu, self.s = mu, s

    def variance(self, t):
        m, std = self.sde.marginal(t)
        return m, m**2 * self.s**2 + std**2

    def score(self, x, t):
        m, v = self.variance(t)
        return -(x - m.view(-1, 1, 1, 1) * self.mu) / v.view(-1, 1, 1, 1)


def _closed_form_nll(model, x0):
    """-log p_{t_min}(x0) - D log(2/L) for the prior N(0, sigma_1^2): the flow scales deviations by c."""
    t0, t1 = torch.tensor([model.sde.t_min]), torch.tensor([1.0])
    (m0, v0), (m1, v1) = model.variance(t0), model.variance(t1)
    c = (v1 / v0).sqrt()
    x1 = m1 * model.mu + c * (x0 - m0 * model.mu)
    log_p = model.prior_log_prob(x1) + model.dims * c.log()
    return -(log_p + model.dims * math.log(2 / model.num_levels))


@pytest.mark.parametrize("sde", ["vp", "ve"])
def test_probability_flow_likelihood_with_an_analytic_score_equals_the_closed_form(sde):
    # VP with T = 20: beta(t) jumps twenty times; the ODE is solved in lambda = -log alpha_bar.
    model = GaussianScore(0.1, 0.3, event_shape=(1, 2, 2), num_levels=17, sde=sde, num_steps=20, sigma_max=5.0)
    model.double()
    x = torch.randint(0, 17, (6, 1, 2, 2))
    got = model.ode_nll(x, steps=100, generator=torch.Generator().manual_seed(1))
    x0 = model.to_unit(x, torch.Generator().manual_seed(1))
    assert torch.allclose(got, _closed_form_nll(model, x0), atol=1e-3)


def test_bits_per_dim_is_never_negative_on_dequantized_discrete_data():
    L = 17
    s = (2 / L) / math.sqrt(12)  # the unit box of a constant image, on the [-1, 1] scale
    model = GaussianScore(0.0, s, event_shape=(1, 2, 2), num_levels=L).double()
    x = torch.full((256, 1, 2, 2), 8, dtype=torch.long)
    nll = model.ode_nll(x, steps=50, generator=torch.Generator().manual_seed(0))
    assert nll.mean() >= 0
    # the same number without the scaling term D log(2/L) would be negative:
    assert (nll.mean() - 4 * math.log(L / 2)) < 0


def test_samplers_and_score_shapes():
    model = ScoreSDE(event_shape=(1, 3, 3), num_levels=4, sde="ve", hidden=[8])
    for method in ("sde", "ode"):
        s = model.sample(5, steps=4, method=method)
        assert s.shape == (5, 1, 3, 3) and s.dtype == torch.long
    assert model.score(torch.randn(2, 1, 3, 3), 0.5).shape == (2, 1, 3, 3)
    with pytest.raises(ValueError, match="t must"):
        model.score(torch.randn(2, 1, 3, 3), 0.0)
