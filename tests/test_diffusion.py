"""gdl.diffusion: schedules against their closed forms, the DDPM bound, DDIM, and the score network."""

import itertools
import math

import pytest
import torch

import gdl
from gdl import data
from gdl.diffusion import (
    DDPM,
    NCSN,
    NoiseSchedule,
    annealed_langevin,
    cosine_betas,
    denoising_score_matching,
    geometric_sigmas,
    linear_betas,
)
from gdl.diffusion.ddpm import _log_bin_probability

# -------------------- Diffusion maths: schedules against their closed forms, the bound, DDIM and the denoisers.
N = 40_000  # Monte Carlo draws for the moment tests


# ---------------------------------------------------------------- schedules
def test_linear_schedule_matches_ho_et_al():
    b = linear_betas(1000)
    assert b[0].item() == pytest.approx(1e-4) and b[-1].item() == pytest.approx(0.02)
    assert torch.allclose(b.diff(), torch.full((999,), (0.02 - 1e-4) / 999, dtype=b.dtype))
    # shorter schedules keep the total noise about the same
    for T in (50, 200):
        a_T = torch.prod(1 - linear_betas(T))
        assert a_T.item() == pytest.approx(torch.prod(1 - b).item(), rel=0.2, abs=1e-4)


def test_cosine_schedule_follows_its_closed_form():
    T, s = 200, 0.008
    sched = NoiseSchedule(cosine_betas(T, s=s))
    t = torch.arange(1, T + 1, dtype=torch.float64)
    f = lambda u: torch.cos((u / T + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    expected = (f(t) / f(torch.zeros(1, dtype=torch.float64))).float()
    unclipped = sched.betas < 0.999
    assert torch.allclose(sched.alphas_cumprod[unclipped], expected[unclipped], rtol=1e-4, atol=1e-7)


def test_schedule_buffers_are_named_after_their_formulas():
    s = NoiseSchedule(linear_betas(50))
    a_bar = torch.cumprod(1 - s.betas.double(), 0)
    a_prev = torch.cat([torch.ones(1, dtype=torch.float64), a_bar[:-1]])
    assert torch.allclose(s.alphas_cumprod.double(), a_bar, rtol=1e-5)
    assert torch.allclose(s.sqrt_alphas_cumprod.double(), a_bar.sqrt(), rtol=1e-5)
    assert torch.allclose(s.sqrt_one_minus_alphas_cumprod.double(), (1 - a_bar).sqrt(), rtol=1e-5)
    beta_tilde = s.betas.double() * (1 - a_prev) / (1 - a_bar)
    assert torch.allclose(s.posterior_variance.double(), beta_tilde, rtol=1e-5)
    assert s.posterior_variance[0] == 0  # x_0 is known exactly given x_1 and x_0


def test_q_posterior_is_bayes_rule():
    # q(x_{t-1} | x_t, x_0) ∝ q(x_t | x_{t-1}) q(x_{t-1} | x_0): multiply the two Gaussians.
    s = NoiseSchedule(cosine_betas(30))
    t = torch.arange(1, 30)
    x0, x_t = torch.randn(29), torch.randn(29)
    beta, a_prev = s.betas[t], s.alphas_cumprod_prev[t]
    precision = (1 - beta) / beta + 1 / (1 - a_prev)
    mean = ((1 - beta).sqrt() * x_t / beta + a_prev.sqrt() * x0 / (1 - a_prev)) / precision
    got_mean, got_var = s.q_posterior(x0, x_t, t)
    assert torch.allclose(got_var, 1 / precision, rtol=1e-4)
    assert torch.allclose(got_mean, mean, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("t", [0, 7, 19])
def test_q_sample_matches_closed_form_and_the_product_of_steps(t):
    s = NoiseSchedule(linear_betas(20))
    x0 = torch.tensor([-1.0, 0.3, 0.9]).expand(N, 3)
    # one jump with q_sample
    x_t = s.q_sample(x0, torch.full((N,), t))
    mean, var = s.q_mean_variance(x0[:1], torch.tensor([t]))
    se = (var[0] / N).sqrt()
    assert (x_t.mean(0) - mean[0]).abs().max() < 5 * se.max()
    assert torch.allclose(x_t.var(0), var[0], rtol=0.05)
    # t + 1 small steps x_s = sqrt(1 - beta_s) x_{s-1} + sqrt(beta_s) eps
    x = x0.clone()
    for step in range(t + 1):
        x = (1 - s.betas[step]).sqrt() * x + s.betas[step].sqrt() * torch.randn_like(x)
    assert (x.mean(0) - mean[0]).abs().max() < 5 * se.max()
    assert torch.allclose(x.var(0), var[0], rtol=0.05)


# ---------------------------------------------------------------- the discrete decoder and the bound
def test_discretised_gaussian_sums_to_one_over_the_levels():
    L = 17
    levels = torch.linspace(-1, 1, L)[:, None]  # (L, 1)
    mean = torch.tensor([-3.0, -1.0, -0.03, 0.0, 0.5, 0.99, 4.0])  # including far tails
    for std in (1e-3, 0.05, 2.0):
        log_p = _log_bin_probability(levels, mean, torch.tensor(std), 1 / (L - 1))
        assert torch.isfinite(log_p).all()
        assert torch.allclose(log_p.exp().sum(0), torch.ones(len(mean)), atol=1e-5)


def test_elbo_is_a_bound_on_uniform_data():
    # Data uniform over all L^D images have entropy D log L; no model beats it on average.
    L, shape = 3, (1, 2, 2)
    x = torch.tensor(list(itertools.product(range(L), repeat=4))).view(-1, *shape)
    for prediction in ("eps", "levels"):
        model = DDPM(event_shape=shape, num_levels=L, num_steps=50, hidden=[16], prediction=prediction)
        torch.manual_seed(0)
        nll = -torch.stack([model.elbo(x) for _ in range(4)]).mean()
        assert torch.isfinite(nll)
        assert nll >= 4 * math.log(L) - 0.05


def test_untrained_level_posterior_is_exact_for_independent_uniform_pixels():
    # The network starts at zero, so p(x0 = c | x_t) ∝ N(x_t; sqrt(a) c, 1 - a): Bayes' rule for
    # pixels drawn uniformly from the levels.
    L = 5
    model = DDPM(event_shape=(1, 2, 2), num_levels=L, num_steps=40, hidden=[8], prediction="levels")
    x_t = torch.randn(6, 1, 2, 2)
    t = torch.tensor([0, 3, 10, 20, 30, 39])
    c = torch.linspace(-1, 1, L)
    a = model.schedule.alphas_cumprod[t].view(-1, 1, 1, 1, 1)
    w = torch.softmax(-((x_t[..., None] - a.sqrt() * c) ** 2) / (2 * (1 - a)), dim=-1)
    assert torch.allclose(model.predict_x0(x_t, t), (w * c).sum(-1), atol=1e-5)


def test_elbo_is_finite_and_improves_with_training():
    x, _ = data.digits("train")
    x = x[:200]
    model = DDPM(num_steps=50, hidden=[64, 64], prediction="levels")
    torch.manual_seed(0)
    before = -model.elbo(x).mean().item()
    gdl.fit(model, x, steps=150, batch_size=64, lr=2e-3, seed=0, progress=False, log_every=0)
    torch.manual_seed(0)
    after = -model.elbo(x).mean().item()
    assert math.isfinite(before) and math.isfinite(after)
    assert after < before - 5


@pytest.mark.parametrize(
    "kwargs",
    [dict(prediction="eps", network="mlp"), dict(prediction="levels", network="unet", channels=8)],
)
def test_every_parameter_gets_a_gradient(kwargs):
    model = DDPM(event_shape=(1, 4, 4), num_levels=5, num_steps=10, hidden=[8], **kwargs)
    # the zero-initialised output layer stops gradients reaching earlier layers at first;
    # one optimiser step from the loss's gradient lets them flow
    x = torch.randint(0, 5, (16, 1, 4, 4))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model.loss(x).backward()
    opt.step()
    opt.zero_grad()
    model.loss(x).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"{name} got no gradient"


# ---------------------------------------------------------------- the optimal denoiser
def test_trained_denoiser_approaches_the_optimal_one_for_gaussian_data():
    # x0 ~ N(m, s^2) per dimension (finely discretised): E[x0 | x_t] is linear in x_t.
    L, m, sd = 401, torch.tensor([0.3, -0.2]), torch.tensor([0.25, 0.1])
    g = torch.Generator().manual_seed(0)
    x0 = (m + sd * torch.randn(4000, 2, generator=g)).clamp(-1, 1)
    x = ((x0 + 1) * (L - 1) / 2).round().long()
    model = DDPM(event_shape=(2,), num_levels=L, num_steps=20, hidden=[64, 64])
    gdl.fit(model, x, steps=1500, batch_size=256, lr=3e-3, seed=0, progress=False, log_every=0)
    t = torch.tensor([2, 5, 10, 15]).repeat_interleave(500)
    x0_test = m + sd * torch.randn(len(t), 2, generator=g)
    x_t = model.q_sample(x0_test, t)
    a = model.schedule.alphas_cumprod[t][:, None]
    x0_optimal = m + a.sqrt() * sd**2 / (a * sd**2 + 1 - a) * (x_t - a.sqrt() * m)
    eps_optimal = (x_t - a.sqrt() * x0_optimal) / (1 - a).sqrt()
    with torch.no_grad():
        eps = model.predict_noise(x_t, t)
    # the optimal noise prediction has mean square about 1; the learned one is within 1%
    assert (eps - eps_optimal).pow(2).mean() < 0.01 * eps_optimal.pow(2).mean()
    assert torch.allclose(model.score(x_t, t), -eps / (1 - a).sqrt())


# ---------------------------------------------------------------- DDIM
def test_ddim_with_eta_one_is_the_ddpm_posterior_step():
    model = DDPM(event_shape=(1, 2, 2), num_levels=5, num_steps=20, hidden=[8], variance="posterior")
    with torch.no_grad():
        for p in model.parameters():  # a non-trivial network
            p.add_(0.3 * torch.randn_like(p))
        x_t = torch.randn(4, 1, 2, 2)
        for t in (1, 8, 19):
            mean, sigma = model.ddim_step(x_t, t, t - 1, eta=1.0)
            p_mean, p_var = model.p_mean_variance(x_t, torch.full((4,), t))
            assert torch.allclose(sigma**2, model.schedule.posterior_variance[t], rtol=1e-4)
            assert torch.allclose(sigma**2, p_var, rtol=1e-4)
            assert torch.allclose(mean, p_mean, atol=1e-5)


def test_ddim_with_eta_zero_is_deterministic():
    model = DDPM(event_shape=(1, 2, 2), num_levels=5, num_steps=30, hidden=[8])
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    x_T = torch.randn(6, 1, 2, 2)
    torch.manual_seed(1)
    a = model.reverse(x_T, steps=10, eta=0.0)
    torch.manual_seed(2)
    b = model.reverse(x_T, steps=10, eta=0.0)
    torch.manual_seed(2)
    c = model.reverse(x_T, steps=10, eta=1.0)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    assert model.timesteps(10)[0] == 29 and model.timesteps(10)[-1] == 0


def test_sampling_returns_levels_and_keeps_the_path():
    model = DDPM(event_shape=(1, 2, 2), num_levels=5, num_steps=12, hidden=[8])
    s = model.sample(7, steps=4)
    assert s.dtype == torch.long and s.min() >= 0 and s.max() <= 4
    path = model.reverse(torch.randn(3, 1, 2, 2), keep=True)
    assert len(path) == 13 and path[-1].shape == (3, 1, 2, 2)


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(num_steps=0), "num_steps"),
        (dict(schedule="quadratic"), "schedule"),
        (dict(variance="learned"), "variance"),
        (dict(prediction="v"), "prediction"),
        (dict(network="transformer"), "network"),
        (dict(num_levels=1), "num_levels"),
        (dict(schedule=torch.full((5,), 0.1), num_steps=6), "schedule"),
    ],
)
def test_bad_hyperparameters_are_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DDPM(**kwargs)


def test_bad_inputs_are_clear_errors():
    model = DDPM(event_shape=(1, 2, 2), num_levels=3, num_steps=5, hidden=[4])
    with pytest.raises(ValueError, match="x must hold integers in 0..2"):
        model.elbo(torch.full((2, 1, 2, 2), 3))
    with pytest.raises(ValueError, match="integer"):
        model.loss(torch.zeros(2, 1, 2, 2))
    with pytest.raises(ValueError, match="steps"):
        model.sample(2, steps=6)
    with pytest.raises(ValueError, match="eta"):
        model.sample(2, eta=0.5)
    with pytest.raises(ValueError, match="t must"):
        model.q_sample(torch.zeros(2, 1, 2, 2), torch.tensor([0, 5]))


def test_probability_flow_estimate_is_finite_and_seeded():
    x, _ = data.digits("test")
    model = DDPM(num_steps=40, hidden=[32], prediction="levels")
    torch.manual_seed(0)
    a = model.ode_nll(x[:20], steps=10)
    torch.manual_seed(0)
    b = model.ode_nll(x[:20], steps=10)
    assert a.shape == (20,) and torch.isfinite(a).all()
    assert torch.equal(a, b)
    assert not a.requires_grad


class _PointMass(DDPM):
    """A DDPM whose clean-image estimate is always the grey image 0: data at a single point."""

    def predict_x0(self, x_t, t, clip=True):
        return x_t * 0.0  # constant, but still part of the autograd graph


def test_probability_flow_of_a_linear_map_matches_its_exact_density():
    # With a constant estimate of x_0, each DDIM step from data to noise only rescales,
    # x_t' = c x_t with c = sqrt((1 - a_t') / (1 - a_t)): a linear map whose density is exact.
    model = _PointMass(event_shape=(1, 2, 2), num_levels=3, num_steps=50, hidden=[8])
    x = torch.randint(0, 3, (64, 1, 2, 2))
    torch.manual_seed(0)
    estimate = model.ode_nll(x, steps=20)
    torch.manual_seed(0)
    x0 = model.to_unit(x)
    x1 = model.q_sample(x0, 0)
    a = model.schedule.alphas_cumprod
    scale = ((1 - a[-1]) / (1 - a[0])).sqrt()  # x_T = scale * x_1
    log_p = torch.distributions.Normal(0.0, 1.0).log_prob(scale * x1).sum((1, 2, 3)) + 4 * scale.log()
    # decoder N(0, beta_1) around the estimate 0; bins of half-width 1/2, the outer ones open
    z = 0.5 / model.schedule.betas[0].sqrt()
    log_tail = torch.special.log_ndtr(-z)  # the mass of either outer bin
    log_mass = torch.where(x0 == 0, torch.log1p(-2 * log_tail.exp()), log_tail)
    l0 = -log_mass.sum((1, 2, 3))
    entropy = 4 * torch.distributions.Normal(0.0, (1 - a[0]).sqrt()).entropy()
    exact = l0 - entropy - log_p
    assert torch.allclose(estimate, exact, rtol=1e-4)


# -------------------- Noise-conditional score networks: the DSM minimiser, a trained score, annealed Langevin.
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
def test_bad_score_network_hyperparameters_are_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NCSN(**kwargs)


def test_registered_as_a_score_model_with_no_density():
    assert (NCSN.family, NCSN.density) == ("diffusion", "score")
    assert gdl.NCSN is NCSN
    with pytest.raises(AttributeError, match="score"):
        NCSN().log_prob


def test_nan_input_is_a_clear_error_for_the_score_network():
    model = NCSN(event_shape=(2,), hidden=[8], num_sigmas=3)
    x = torch.randn(4, 2)
    x[2, 1] = float("inf")
    with pytest.raises(ValueError, match="x must be finite"):
        model.score(x, 0.5)
    with pytest.raises(ValueError, match="x must be finite"):
        model.loss(x)


# ---------------------------------------------------------------- classifier-free guidance
def _guided():
    from gdl.diffusion import GuidedDDPM

    torch.manual_seed(0)
    model = GuidedDDPM(num_classes=3, event_shape=(1, 4, 4), num_levels=5, num_steps=20, hidden=[16])
    with torch.no_grad():  # a non-zero output layer, so conditional and unconditional differ
        model.net.out.weight.normal_(0, 0.3)
        model.label_embedding.weight.normal_(0, 1.0)
    return model


def _sample(model, predict, labels, seed, **kw):
    """Ancestral (or DDIM with steps=) sampling with the noise prediction replaced by ``predict``."""
    model.predict_noise = predict
    try:
        torch.manual_seed(seed)
        x_T = torch.randn(len(labels), *model.event_shape)
        return type(model).__mro__[1].reverse(model, x_T, **kw)  # DDPM.reverse: no guidance of its own
    finally:
        del model.predict_noise


@pytest.mark.parametrize("kw", [{}, {"steps": 5}])
def test_guidance_zero_is_plain_conditional_sampling_and_minus_one_unconditional(kw):
    model = _guided()
    labels = torch.tensor([0, 1, 2, 2, 1, 0])
    net = model.net

    def conditional(x_t, t):
        t = model._as_steps(t, x_t)
        return net(x_t, model._net_time(t), model.label_embedding(labels))

    def unconditional(x_t, t):
        t = model._as_steps(t, x_t)
        return net(x_t, model._net_time(t), model.label_embedding(torch.full_like(labels, 3)))

    for w, reference in ((0.0, conditional), (-1.0, unconditional)):
        torch.manual_seed(1)
        x_T = torch.randn(len(labels), *model.event_shape)
        guided = model.reverse(x_T, labels=labels, guidance=w, **kw)
        assert torch.equal(guided, _sample(model, reference, labels, 1, **kw)), f"w = {w}"
    torch.manual_seed(1)
    x_T = torch.randn(len(labels), *model.event_shape)
    assert torch.equal(model.reverse(x_T, labels=labels, guidance=-1.0, **kw), _sample(model, unconditional, labels, 1, **kw))
    torch.manual_seed(1)
    x_T = torch.randn(len(labels), *model.event_shape)
    assert torch.equal(model.reverse(x_T, **kw), _sample(model, unconditional, labels, 1, **kw))  # labels=None
    torch.manual_seed(1)
    x_T = torch.randn(len(labels), *model.event_shape)
    assert not torch.equal(model.reverse(x_T, labels=labels, guidance=2.0, **kw),
                           _sample(model, conditional, labels, 1, **kw))


def test_guided_noise_is_the_stated_mixture():
    model = _guided()
    labels = torch.tensor([0, 1, 2])
    x_t, t = torch.randn(3, 1, 4, 4), torch.tensor([3, 10, 19])
    with model.conditioned(labels, 0.0):
        eps_c = model.predict_noise(x_t, t)
    eps_u = model.predict_noise(x_t, t)
    with model.conditioned(labels, 2.5):
        torch.testing.assert_close(model.predict_noise(x_t, t), 3.5 * eps_c - 2.5 * eps_u)


def test_guided_training_drops_the_condition():
    model = _guided()
    seen = []
    original = model.label_embedding.forward
    model.label_embedding.forward = lambda c: seen.append(c.clone()) or original(c)
    x = torch.randint(0, 5, (4000, 1, 4, 4))
    model.loss(x, torch.zeros(4000, dtype=torch.long))
    dropped = (seen[0] == 3).float().mean().item()
    assert dropped == pytest.approx(model.p_uncond, abs=0.02)


def test_guided_checks_labels_and_weight():
    model = _guided()
    with pytest.raises(ValueError, match="labels"):
        model.sample(2, labels=torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="guidance"):
        model.sample(2, guidance=-2.0)
    with pytest.raises(ValueError, match="network"):
        from gdl.diffusion import GuidedDDPM

        GuidedDDPM(prediction="levels")
