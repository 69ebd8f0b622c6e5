"""gdl.latent: VAE bounds against a linear-Gaussian model, and the VQ-VAE's quantiser, gradients and losses."""

import itertools
import math

import pytest
import torch
from torch import nn
from torch.distributions import Independent, MultivariateNormal, Normal, kl_divergence

from gdl.latent import VAE, VQVAE, BetaVAE, HierarchicalVAE, VectorQuantizer
from gdl.latent.vqvae import code_usage

# -------------------- VAE maths: bounds against a linear-Gaussian model whose log p(x) is known in closed form.
D, Z = 3, 2  # data and latent sizes of the linear-Gaussian model
SIGMA = 0.5  # decoder noise


class LinearGaussianVAE(VAE):
    r"""p(z) = N(0, I), p(x|z) = N(Wz + b, σ²I), q(z|x) = N(Ax + c, diag s²).

    The marginal is p(x) = N(b, WWᵀ + σ²I). W has orthogonal columns, so the true posterior
    is a diagonal Gaussian and the encoder family contains it.
    """

    def __init__(self):
        super().__init__(event_shape=(D,), num_levels=2, latent_dim=Z, hidden=[1])
        g = torch.Generator().manual_seed(0)
        q, _ = torch.linalg.qr(torch.randn(D, D, generator=g))
        self.register_buffer("W", q[:, :Z] * torch.tensor([2.0, 0.7]))  # (D, Z), orthogonal columns
        self.register_buffer("b", torch.randn(D, generator=g))
        self.A = nn.Parameter(torch.zeros(Z, D))
        self.c = nn.Parameter(torch.zeros(Z))
        self.log_s = nn.Parameter(torch.zeros(Z))

    def _check_data(self, x):  # continuous data here
        return self._check_event(x)

    def encode(self, x):
        return Independent(Normal(x @ self.A.T + self.c, self.log_s.exp()), 1)

    def decode(self, z):
        return Independent(Normal(z @ self.W.T + self.b, SIGMA), 1)

    def log_marginal(self, x):
        cov = self.W @ self.W.T + SIGMA**2 * torch.eye(D)
        return MultivariateNormal(self.b, cov).log_prob(x)

    @torch.no_grad()
    def set_exact_posterior(self):
        # Posterior precision I + WᵀW/σ² is diagonal because W's columns are orthogonal.
        var = 1 / (1 + (self.W**2).sum(0) / SIGMA**2)  # (Z,)
        self.A.copy_(var[:, None] * self.W.T / SIGMA**2)
        self.c.copy_(-self.A @ self.b)
        self.log_s.copy_(0.5 * var.log())


@pytest.fixture
def linear():
    model = LinearGaussianVAE()
    x = torch.randn(5, D, generator=torch.Generator().manual_seed(1)) * 2
    return model, x


def _repeat_mean(fn, x, repeats):
    """Average a per-example estimate over ``repeats`` independent draws, shape (B,)."""
    xs = x.repeat(repeats, *[1] * (x.dim() - 1))  # (repeats * B, ...)
    return fn(xs).view(repeats, len(x)).mean(0)


def test_elbo_is_below_log_marginal(linear):
    model, x = linear
    model.set_exact_posterior()
    with torch.no_grad():
        model.c.add_(0.5)  # a wrong encoder: the gap KL(q || p(z|x)) is then positive
        model.log_s.add_(0.4)
        elbo = _repeat_mean(model.elbo, x, 4000)
    assert (elbo < model.log_marginal(x) - 0.05).all()


def test_elbo_equals_log_marginal_with_the_exact_posterior(linear):
    model, x = linear
    model.set_exact_posterior()
    with torch.no_grad():
        # log p(x, z) - log q(z | x) = log p(x) for every z, so each importance weight is exact;
        # elbo() uses the analytic KL, whose reconstruction term still varies with z.
        torch.testing.assert_close(model.iwae_bound(x, k=7), model.log_marginal(x), atol=1e-4, rtol=0)
        elbo = _repeat_mean(model.elbo, x, 20000)
        torch.testing.assert_close(elbo, model.log_marginal(x), atol=0.03, rtol=0)


def test_iwae_bound_tightens_with_k(linear):
    model, x = linear
    model.set_exact_posterior()
    with torch.no_grad():
        model.c.add_(0.5)
        model.log_s.add_(0.4)
    torch.manual_seed(0)
    log_p = model.log_marginal(x)
    bounds = [
        _repeat_mean(lambda v: model.iwae_bound(v, k=k), x, 2000 // k + 20).mean().item()
        for k in (1, 10, 100, 1000)
    ]
    assert all(b < a + 1e-3 for a, b in zip(bounds[1:], bounds[:-1])), bounds  # non-decreasing
    assert bounds[-1] <= log_p.mean().item() + 0.01
    assert log_p.mean().item() - bounds[-1] < 0.02  # close to log p(x) at k = 1000
    assert log_p.mean().item() - bounds[0] > 0.1  # while k = 1 is clearly below


def test_iwae_bound_with_k_1_is_the_elbo_in_expectation(linear):
    model, x = linear
    with torch.no_grad():
        model.A.normal_()
    torch.manual_seed(0)
    a = _repeat_mean(model.elbo, x, 20000)
    b = _repeat_mean(lambda v: model.iwae_bound(v, k=1), x, 20000)
    torch.testing.assert_close(a, b, atol=0.05 * a.abs().max().item() + 0.05, rtol=0)


def test_analytic_kl_matches_monte_carlo():
    model = VAE(event_shape=(1, 4, 4), num_levels=3, latent_dim=4, hidden=[16])
    x = torch.randint(0, 3, (3, 1, 4, 4))
    with torch.no_grad():
        q = model.encode(x)
        z = q.sample((200_000,))  # (S, B, Z)
        mc = (q.log_prob(z) - model.prior().log_prob(z)).mean(0)
        torch.testing.assert_close(kl_divergence(q, model.prior()), mc, atol=0.02, rtol=0.02)


def test_encoder_gets_gradients_from_the_reconstruction_term_alone():
    model = VAE(event_shape=(1, 4, 4), num_levels=3, latent_dim=2, hidden=[16])
    x = torch.randint(0, 3, (8, 1, 4, 4))
    reconstruction, _ = model.elbo_terms(x)
    reconstruction.sum().backward()  # no KL: gradients reach the encoder only through rsample
    for name, p in model.encoder.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_beta_vae_elbo_does_not_depend_on_beta_but_its_loss_does():
    kwargs = dict(event_shape=(1, 4, 4), num_levels=3, latent_dim=2, hidden=[16])
    low, high = BetaVAE(beta=1.0, **kwargs), BetaVAE(beta=4.0, **kwargs)
    high.load_state_dict(low.state_dict())
    x = torch.randint(0, 3, (8, 1, 4, 4))
    results = []
    for model in (low, high):
        torch.manual_seed(0)
        elbo = model.elbo(x)
        torch.manual_seed(0)
        results.append((elbo, model.loss(x)))
    torch.testing.assert_close(results[0][0], results[1][0])
    assert results[1][1] > results[0][1]  # the KL is positive, so β = 4 costs more
    torch.manual_seed(0)
    loss = low.loss(x)
    torch.manual_seed(0)
    torch.testing.assert_close(loss, -low.elbo(x).mean())  # β = 1 is the plain VAE


def test_hierarchical_vae_elbo_is_below_its_iwae_bound():
    model = HierarchicalVAE(event_shape=(1, 4, 4), num_levels=3, latent_dims=(4, 2), hidden=[16])
    x = torch.randint(0, 3, (6, 1, 4, 4))
    with torch.no_grad():
        elbo = _repeat_mean(model.elbo, x, 2000)
        iwae = model.iwae_bound(x, k=2000, chunk_size=500)
    assert torch.isfinite(elbo).all() and torch.isfinite(iwae).all()
    assert (elbo < iwae).all()
    assert (iwae <= 0).all()  # a log-probability of discrete data


def test_reconstruct_and_sample_give_valid_images():
    model = VAE(event_shape=(1, 4, 4), num_levels=3, latent_dim=2, hidden=[16])
    x = torch.randint(0, 3, (5, 1, 4, 4))
    r = model.reconstruct(x)
    assert r.shape == x.shape and r.min() >= 0 and r.max() <= 2
    s = model.sample(4, mode=True)
    assert s.shape == (4, 1, 4, 4) and s.dtype == torch.long


def test_clear_errors():
    model = VAE(event_shape=(1, 4, 4), num_levels=3, latent_dim=2, hidden=[16])
    with pytest.raises(ValueError, match="integer"):
        model.elbo(torch.rand(2, 1, 4, 4))
    with pytest.raises(ValueError, match="0..2"):
        model.elbo(torch.full((2, 1, 4, 4), 3))
    with pytest.raises(ValueError, match="shape"):
        model.elbo(torch.zeros(2, 16, dtype=torch.long))
    with pytest.raises(ValueError, match="k"):
        model.iwae_bound(torch.zeros(2, 1, 4, 4, dtype=torch.long), k=0)
    with pytest.raises(ValueError, match="beta"):
        BetaVAE(beta=-1.0)
    with pytest.raises(ValueError, match="latent_dims"):
        HierarchicalVAE(latent_dims=(4,))
    with pytest.raises(AttributeError, match="elbo"):
        model.log_prob
    assert math.isfinite(model.loss(torch.zeros(2, 1, 4, 4, dtype=torch.long)).item())


# ------------------------------------------------------------ discretised logistic decoder
def _logistic_masses(loc, scale, num_levels):
    """Masses of one logistic on the bins [k - 1/2, k + 1/2], outer bins open; written out."""
    cdf = lambda v: 1 / (1 + math.exp(-(v - loc) / scale))  # noqa: E731
    masses = []
    for k in range(num_levels):
        hi = 1.0 if k == num_levels - 1 else cdf(k + 0.5)
        lo = 0.0 if k == 0 else cdf(k - 0.5)
        masses.append(hi - lo)
    return torch.tensor(masses, dtype=torch.float64)


def test_discretized_logistic_matches_its_closed_form_and_sums_to_one():
    from gdl.latent import DiscretizedLogisticMixture

    L = 7
    # one component: logit 0, location 1.3 levels above the middle, scale e^-0.4
    params = torch.tensor([[0.0], [1.3], [-0.4]], dtype=torch.float64)
    probs = DiscretizedLogisticMixture(params, L).probs
    expected = _logistic_masses(1.3 + (L - 1) / 2, math.exp(-0.4), L)
    assert expected.sum().item() == pytest.approx(1.0, abs=1e-12)  # the open outer bins
    torch.testing.assert_close(probs, expected)

    # two components mix with their softmax weights
    params = torch.tensor([[0.5, -1.0], [-2.0, 1.5], [0.2, -0.7]], dtype=torch.float64)
    w = torch.softmax(params[0], 0)
    mixed = sum(
        w[m] * _logistic_masses(params[1, m].item() + (L - 1) / 2, math.exp(params[2, m].item()), L)
        for m in range(2)
    )
    torch.testing.assert_close(DiscretizedLogisticMixture(params, L).probs, mixed)


def test_discretized_logistic_log_prob_reads_the_observed_bin_of_probs():
    from gdl.latent import DiscretizedLogisticMixture

    torch.manual_seed(0)
    L = 17
    p = DiscretizedLogisticMixture(torch.randn(4, 5, 3, 3, dtype=torch.float64), L)
    levels = torch.arange(L, dtype=torch.float64).view(L, 1, 1)  # every level, broadcast
    torch.testing.assert_close(p.log_prob(levels), p.probs.log().movedim(-1, 0))
    assert p.sample((6,)).shape == (6, 4, 5) and p.mode.shape == (4, 5)


@pytest.mark.parametrize("decoder", ["categorical", "logistic"])
def test_vae_marginal_sums_to_one_and_bounds_it_on_a_tiny_space(decoder):
    # Two pixels of three levels and a 1-D code: p(x) = ∫ p(x|z) p(z) dz by quadrature.
    torch.manual_seed(0)
    model = VAE(
        event_shape=(1, 1, 2), num_levels=3, latent_dim=1, hidden=[8], decoder=decoder, num_mixtures=2
    ).double()
    images = torch.cartesian_prod(torch.arange(3), torch.arange(3)).view(9, 1, 1, 2)
    z = torch.linspace(-8, 8, 4001, dtype=torch.float64)[:, None]  # (G, 1)
    with torch.no_grad():
        log_px_given_z = model.decode(z[:, None]).log_prob(images)  # (G, 9)
        log_prior = Normal(0.0, 1.0).log_prob(z)  # (G, 1)
        log_px = torch.logsumexp(log_px_given_z + log_prior, 0) + math.log(z[1, 0] - z[0, 0])
        assert torch.logsumexp(log_px, 0).item() == pytest.approx(0.0, abs=1e-6)
        elbo = _repeat_mean(model.elbo, images, 4000)
    assert (elbo <= log_px + 1e-3).all()


def test_logistic_decoder_errors():
    from gdl.latent import DiscretizedLogisticMixture

    with pytest.raises(ValueError, match="decoder"):
        VAE(decoder="gaussian")
    with pytest.raises(ValueError, match="num_mixtures"):
        VAE(decoder="logistic", num_mixtures=0)
    with pytest.raises(ValueError, match="params"):
        DiscretizedLogisticMixture(torch.zeros(4, 2), 5)


# -------------------- VQ-VAE: nearest-neighbour lookup, straight-through gradients, the loss terms, code usage.
def tiny(**kw):
    args = dict(event_shape=(1, 4, 4), num_levels=4, num_codes=4, code_dim=2, hidden=4,
                prior_hidden=4, prior_blocks=1)
    return VQVAE(**{**args, **kw})


def images(n=8):
    return torch.randint(0, 4, (n, 1, 4, 4), generator=torch.Generator().manual_seed(1))


def test_quantizer_picks_the_nearest_codebook_vector():
    vq = VectorQuantizer(num_codes=7, code_dim=3).eval()  # eval: keep the random codebook
    z_e = torch.randn(5, 3, 2, 4)
    q = vq(z_e)
    for b, i, j in itertools.product(range(5), range(2), range(4)):
        dist = (vq.codebook - z_e[b, :, i, j]).norm(dim=1)  # brute force over the K codes
        assert q.codes[b, i, j] == dist.argmin()
        assert torch.allclose(q.z_q[b, :, i, j], vq.codebook[dist.argmin()])


def test_straight_through_passes_reconstruction_gradients_to_the_encoder():
    model = tiny()
    x = images()
    model.losses(x)["reconstruction"].sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())
    # The quantisation itself is not differentiable, so the codebook gets nothing from it.
    assert model.quantizer.codebook.grad is None or model.quantizer.codebook.grad.abs().sum() == 0


def _grads(model, term):
    model.zero_grad(set_to_none=True)
    model.losses(images())[term].sum().backward()
    enc = any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())
    cb = model.quantizer.codebook.grad
    return enc, cb is not None and cb.abs().sum() > 0


def test_codebook_loss_moves_only_the_codes_and_commitment_only_the_encoder():
    model = tiny()
    assert _grads(model, "codebook") == (False, True)
    assert _grads(model, "commitment") == (True, False)


def test_a_codebook_step_moves_the_chosen_code_towards_the_encoder_output():
    vq = VectorQuantizer(num_codes=3, code_dim=2).eval()  # eval: no init from this one vector
    z_e = torch.tensor([[1.0, 2.0]]).view(1, 2, 1, 1)  # (B, D, h, w)
    before = vq.codebook.detach().clone()
    q = vq(z_e)
    q.codebook_loss.sum().backward()
    with torch.no_grad():
        vq.codebook -= 0.1 * vq.codebook.grad
    k = q.codes.item()
    target = z_e.flatten()
    assert (vq.codebook[k] - target).norm() < (before[k] - target).norm()
    others = [j for j in range(3) if j != k]
    assert torch.equal(vq.codebook[others], before[others])  # unchosen codes do not move


def test_codebook_starts_at_encoder_outputs_of_the_first_training_batch():
    vq = VectorQuantizer(num_codes=4, code_dim=2)
    z_e = torch.randn(3, 2, 2, 2)  # 12 vectors for 4 codes
    q = vq(z_e)
    assert vq.initialized
    rows = z_e.permute(0, 2, 3, 1).reshape(-1, 2)  # (12, D)
    assert all((rows == e).all(1).any() for e in vq.codebook)  # every code is an encoder output
    assert torch.allclose(q.codebook_loss.sum(), q.commitment_loss.sum())
    before = vq.codebook.detach().clone()
    vq(torch.randn(3, 2, 2, 2))
    assert torch.equal(vq.codebook, before)  # only once


def test_code_usage_on_hand_built_examples():
    uniform = code_usage(torch.arange(8).repeat(3), 8)
    assert uniform["perplexity"] == pytest.approx(8.0) and uniform["used"] == 1.0
    assert code_usage(torch.zeros(10, dtype=torch.long), 8)["perplexity"] == pytest.approx(1.0)
    half = code_usage(torch.tensor([0, 0, 0, 1]), 4)  # p = (3/4, 1/4): exp(H)
    h = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert half["perplexity"] == pytest.approx(math.exp(h)) and half["used"] == 0.5
    assert half["counts"].tolist() == [3, 1, 0, 0]


def test_encode_decode_shapes_and_reconstruction():
    model = tiny()
    x = images(3)
    codes = model.encode(x)
    assert codes.shape == (3, 1, 2, 2) and codes.dtype == torch.long
    assert model.decode(codes).log_prob(x).shape == (3,)
    assert model.reconstruct(x).shape == x.shape
    assert model.code_usage(x)["counts"].sum() == 3 * 2 * 2


def test_elbo_is_minus_reconstruction_and_prior_nll():
    model = tiny()
    x = images()
    terms = model.losses(x)
    assert torch.allclose(model.elbo(x), -(terms["reconstruction"] + terms["prior"]))
    assert (model.elbo(x) <= 0).all()  # a bound on the log-probability of a discrete image


def test_sample_is_seeded_and_mode_is_deterministic_given_codes():
    model = tiny()
    torch.manual_seed(3)
    a = model.sample(4, mode=True)
    torch.manual_seed(3)
    b = model.sample(4, mode=True)
    assert a.shape == (4, 1, 4, 4) and torch.equal(a, b)


def test_prior_over_codes_sums_to_one_on_a_tiny_grid():
    model = VQVAE(event_shape=(1, 4, 4), num_levels=4, num_codes=3, code_dim=2, hidden=4,
                  downsample=1, prior_hidden=4, prior_blocks=1)
    assert model.grid_shape == (2, 2)
    grids = torch.tensor(list(itertools.product(range(3), repeat=4))).view(-1, 1, 2, 2)  # all 81
    total = model.prior.log_prob(grids).logsumexp(0).exp()
    assert total.item() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    "kw, match",
    [(dict(event_shape=(1, 5, 4)), "downsample"), (dict(beta=-1.0), "beta"),
     (dict(num_codes=0), "num_codes"), (dict(hidden=0), "hidden")],
)
def test_bad_arguments_are_clear_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        tiny(**kw)
