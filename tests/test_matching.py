"""Flow matching and the ODE likelihood: closed forms a wrong integrator or likelihood would miss."""

import math

import torch

from gdl.flows import FlowMatching, ode_log_prob, ot_pairing
from gdl.metrics import bits_per_dim, dequantized_nll


def gaussian_field(m: torch.Tensor, s: float):
    r"""The exact marginal field of straight paths from N(0, I) to N(m, s^2 I), independent coupling:
    x_t ~ N(t m, sigma_t^2 I) with sigma_t^2 = (1-t)^2 + t^2 s^2."""

    def field(x, t):
        t = t.view(-1, *([1] * (x.dim() - 1)))
        var = (1 - t) ** 2 + t**2 * s**2
        return m + (t * s**2 - (1 - t)) / var * (x - t * m)

    return field


class AnalyticFlow(FlowMatching):
    def __init__(self, field, **kwargs):
        super().__init__(hidden=[4], **kwargs)
        self.field = field

    def velocity(self, x, t):
        return self.field(x, t)


def test_euler_on_the_gaussian_to_gaussian_field_reaches_the_target_moments():
    m, s = torch.tensor([2.0, -1.0]), 0.5
    model = AnalyticFlow(gaussian_field(m, s), event_shape=(2,))
    x = model.sample(20_000, steps=200)
    assert torch.allclose(x.mean(0), m, atol=0.03)
    assert torch.allclose(x.std(0), torch.full((2,), s), atol=0.02)


def test_ot_pairing_costs_no_more_than_the_identity_pairing_on_every_batch():
    g = torch.Generator().manual_seed(0)
    for trial in range(30):
        n, d = 2 + trial % 17, 1 + trial % 5
        x0, x1 = torch.randn(n, d, generator=g), torch.randn(n, d, generator=g) * 3 + 1
        perm = ot_pairing(x0, x1)
        assert sorted(perm.tolist()) == list(range(n))  # a permutation
        ot = ((x0 - x1[perm]) ** 2).sum()
        identity = ((x0 - x1) ** 2).sum()
        assert ot <= identity + 1e-9


def test_the_ot_coupling_pairs_noise_with_data_inside_the_loss():
    model = FlowMatching(event_shape=(3,), hidden=[4], coupling="ot")
    x1 = torch.randn(64, 3) * 4
    x0 = torch.randn(64, 3)
    paired = model.pair(x0, x1)
    assert ((paired - x1) ** 2).sum() <= ((x0 - x1) ** 2).sum()
    assert torch.equal(paired.sort(0).values, x0.sort(0).values)  # the same noise, reordered


def _linear_field(x, t):  # v = a(t) x with a(t) = 1 + t: divergence D (1 + t), varying in time
    return (1 + t).view(-1, *([1] * (x.dim() - 1))) * x


def _linear_closed_form(x):
    # x(1) = x(0) e^{A}, A = int_0^1 (1 + t) dt = 1.5; log p1(x) = log N(x e^{-A}) - D A
    D, A = x[0].numel(), 1.5
    z = x * math.exp(-A)
    return -0.5 * (z**2).flatten(1).sum(1) - 0.5 * D * math.log(2 * math.pi) - D * A


def test_ode_likelihood_with_a_linear_field_equals_the_change_of_variables():
    x = torch.randn(6, 3, dtype=torch.float64) * 2
    base = lambda z: -0.5 * (z**2).sum(1) - 1.5 * math.log(2 * math.pi)  # noqa: E731
    closed = _linear_closed_form(x)
    for method, steps, tol in [("rk4", 20, 1e-6), ("euler", 2000, 2e-2)]:
        for exact in (True, False):  # Hutchinson is exact for an isotropic field
            got = ode_log_prob(_linear_field, x, base, t0=1.0, t1=0.0, steps=steps, method=method, exact=exact)
            assert torch.allclose(got, closed, atol=tol), (method, exact, got - closed)


def test_model_log_prob_with_a_linear_field_equals_the_change_of_variables():
    model = AnalyticFlow(_linear_field, event_shape=(1, 2, 2))
    x = torch.randn(5, 1, 2, 2) * 3
    assert torch.allclose(model.log_prob(x, steps=20), _linear_closed_form(x), atol=1e-3)


def test_bits_per_dim_is_never_negative_on_dequantized_discrete_data():
    # Constant images: the best continuous density is the unit box around them. A Gaussian
    # fitted to the box reaches about 0.18 nats per dimension on the integer scale; forgetting
    # the scaling from [0, L) to [-1, 1) would report 0.18 - log(17 / 2) < 0.
    L, shape = 17, (1, 2, 2)
    s = (2 / L) / math.sqrt(12)  # the box's standard deviation on the [-1, 1] scale
    model = AnalyticFlow(gaussian_field(torch.zeros(shape), s), event_shape=shape, num_levels=L)
    x = torch.full((64, *shape), 8, dtype=torch.long)  # 8 + u sits at the centre of [-1, 1)
    nats = dequantized_nll(model, x, draws=4)
    assert 0 <= bits_per_dim(nats, 4) < 0.5
    assert nats / 4 == torch.tensor(nats / 4).clamp(0.1, 0.3)  # near the Gaussian's 0.18


def test_sample_is_on_the_levels_and_loss_has_gradients():
    model = FlowMatching(event_shape=(1, 2, 2), hidden=[8], num_levels=5)
    x = torch.randint(0, 5, (16, 1, 2, 2))
    s = model.sample(9, steps=3)
    assert s.dtype == torch.long and s.min() >= 0 and s.max() <= 4
    model.loss(x).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_the_level_posterior_of_a_zero_network_is_exact_for_uniform_levels():
    # The last layer starts at zero, so an untrained model's posterior is N(x_t; t c_k, (1-t)^2)
    # normalised over k: exact when every level is equally likely. Its flow must then carry the
    # noise to each level equally often, and its bound must reach log P(x) = -D log L.
    torch.manual_seed(0)
    L, shape = 3, (1, 1, 2)
    model = FlowMatching(event_shape=shape, hidden=[4], num_levels=L, prediction="levels")
    s = model.sample(6000, steps=50)
    share = torch.bincount(s.flatten(), minlength=L).float() / s.numel()
    assert torch.allclose(share, torch.full((L,), 1 / L), atol=0.02)
    x = torch.randint(0, L, (400, *shape))
    log_p = model.dequantized_log_prob(x, steps=40)  # one draw each of a bound on log P(x)
    assert abs(log_p.mean().item() + 2 * math.log(L)) < 0.05


def test_an_euler_step_that_ends_at_t_1_lands_on_the_predicted_levels():
    model = FlowMatching(event_shape=(1, 2, 2), hidden=[8], num_levels=5, prediction="levels")
    x = torch.randint(0, 5, (16, 1, 2, 2))
    model.loss(x).backward()
    assert all(p.grad is not None for p in model.parameters())
    x0 = torch.randn(7, 1, 2, 2)
    end = model._from_model(model.flow(x0, steps=4)) - 0.5  # on the integer scale, centres at k
    assert end.min() >= -1e-4 and end.max() <= 4 + 1e-4  # a mean of the levels' centres
    path = model.flow(x0, steps=4, keep=True)
    t = torch.full((7,), 0.75)
    assert torch.allclose(path[-1], model.predict_x1(path[-2], t), atol=1e-6)


def test_levels_prediction_needs_levels_and_has_no_density_on_the_integer_scale():
    import pytest

    with pytest.raises(ValueError, match="num_levels"):
        FlowMatching(event_shape=(2,), prediction="levels")
    model = FlowMatching(event_shape=(1, 2, 2), hidden=[8], num_levels=5, prediction="levels")
    with pytest.raises(ValueError, match="dequantized_log_prob"):
        model.log_prob(torch.rand(3, 1, 2, 2) * 5)
