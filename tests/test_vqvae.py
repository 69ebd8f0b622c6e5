"""VQ-VAE: nearest-neighbour lookup, straight-through gradients, the loss terms, code usage."""

import itertools
import math

import pytest
import torch

from gdl.latent import VQVAE, VectorQuantizer
from gdl.latent.vqvae import code_usage


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
    assert vq.initialised
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
