"""VQ-GAN: the commitment weight, the adaptive weight, the warm-up, the patch discriminator, the prior."""

import copy

import pytest
import torch

from gdl import GPT
from gdl.gan import VQGAN, PatchDiscriminator, adaptive_weight, perceptual_distance
from gdl.latent import VQVAE
from gdl.quality import FeatureClassifier


def _vqvae(beta=0.25, seed=0):
    torch.manual_seed(seed)
    return VQVAE(event_shape=(1, 8, 8), num_levels=4, num_codes=8, code_dim=3, hidden=6,
                 beta=beta, prior_hidden=4, prior_blocks=1)


def _vqgan(vqvae, **kw):
    torch.manual_seed(1)
    args = dict(disc_start=0, disc_hidden=4, perceptual_network=FeatureClassifier(8, width=4, features=8))
    return VQGAN(vqvae, **{**args, **kw})


def _images(n=12, seed=0):
    return torch.randint(0, 4, (n, 1, 8, 8), generator=torch.Generator().manual_seed(seed))


def _grads(model, loss):
    model.zero_grad(set_to_none=True)
    loss.backward()
    return {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}


def test_commitment_weight_reaches_the_encoder_and_not_the_codebook():
    x = _images()
    grads = {}
    for beta in (0.0, 1.0, 3.0):
        model = _vqgan(_vqvae(beta=beta))
        model.vqvae.quantizer.init_from(torch.randn(8, 3, generator=torch.Generator().manual_seed(2)))
        torch.manual_seed(3)
        grads[beta] = _grads(model, model.generator_losses(x, adversarial=True)["total"])
    codebook = "vqvae.quantizer.codebook"
    encoder = [k for k in grads[0.0] if k.startswith("vqvae.encoder.")]
    # the codebook's gradient does not depend on beta at all...
    assert torch.allclose(grads[0.0][codebook], grads[3.0][codebook], atol=1e-6)
    # ...while the encoder's moves linearly in beta: g(3) - g(0) = 3 (g(1) - g(0))
    for k in encoder:
        step = grads[1.0][k] - grads[0.0][k]
        assert torch.allclose(grads[3.0][k] - grads[0.0][k], 3 * step, atol=1e-5)
    assert any(step.abs().max() > 1e-4 for step in (grads[1.0][k] - grads[0.0][k] for k in encoder))


def test_adaptive_weight_equalises_the_two_gradient_norms_at_the_last_layer():
    model = _vqgan(_vqvae(), delta=1e-12)
    x = _images()
    model.train_step(x, model.configure_optimizers(1e-3))  # a trained step: D is no longer at init
    last = model.vqvae.decoder[-1].weight
    terms = model.generator_losses(x, adversarial=True)
    lam = terms["adaptive_weight"]  # the weight the model uses
    assert not lam.requires_grad  # a constant in the backward pass
    rec = terms["reconstruction"] + model.perceptual_weight * 64 * terms["perceptual"]
    g_rec = torch.autograd.grad(rec, last, retain_graph=True)[0]
    g_gan = torch.autograd.grad(lam * terms["gan"], last, retain_graph=True)[0]
    assert g_rec.norm() > 0 and g_gan.norm() > 0
    assert torch.allclose(g_rec.norm(), g_gan.norm(), rtol=1e-4)
    assert torch.allclose(adaptive_weight(rec, terms["gan"], last, delta=1e-12), lam, rtol=1e-5)


def test_before_the_discriminator_starts_a_step_is_exactly_a_vqvae_step():
    vqvae, x = _vqvae(), _images()
    model = _vqgan(copy.deepcopy(vqvae), disc_start=2)
    disc = copy.deepcopy(model.discriminator.state_dict())
    opt_v, opt_g = vqvae.configure_optimizers(1e-2), model.configure_optimizers(1e-2)
    for _ in range(2):
        torch.manual_seed(5)
        vqvae.train_step(x, opt_v)
        torch.manual_seed(5)
        logs = model.train_step(x, opt_g)
        assert logs["loss"] == 0.0 and logs["perceptual"] == 0.0
    for k, v in vqvae.state_dict().items():
        assert torch.equal(v, model.vqvae.state_dict()[k]), k
    for k, v in disc.items():
        assert torch.equal(v, model.discriminator.state_dict()[k]), k
    # from step disc_start on, the discriminator and the extra terms act
    torch.manual_seed(5)
    vqvae.train_step(x, opt_v)
    torch.manual_seed(5)
    logs = model.train_step(x, opt_g)
    assert logs["loss"] > 0 and logs["perceptual"] > 0
    assert not torch.equal(vqvae.decoder[-1].weight, model.vqvae.decoder[-1].weight)
    assert not torch.equal(disc["net.0.weight"], model.discriminator.net[0].weight)


def test_patch_discriminator_scores_patches_and_the_hinge_loss_is_zero_when_confident():
    d = PatchDiscriminator(hidden=4)
    assert d(torch.rand(3, 1, 28, 28)).shape == (3, 1, 7, 7)
    model = _vqgan(_vqvae())
    with torch.no_grad():  # a discriminator that says +2 to everything: no loss on reals
        model.discriminator.net[-1].weight.zero_()
        model.discriminator.net[-1].bias = torch.nn.Parameter(torch.tensor([2.0]))
    x = _images()
    assert model.discriminator_loss(x, x.float()).item() == pytest.approx(0.0 + 3.0)


def test_perceptual_distance_is_zero_on_equal_images_and_positive_otherwise():
    net = FeatureClassifier(8, width=4, features=8)
    x = torch.rand(5, 1, 8, 8)
    assert torch.allclose(perceptual_distance(net, x, x), torch.zeros(5))
    assert (perceptual_distance(net, x, x.flip(-1)) > 0).all()


def test_gpt_prior_samples_codes_in_range_and_decodes_them():
    model = _vqgan(_vqvae())
    h, w = model.vqvae.grid_shape
    tokens = model.tokens(_images())
    assert tokens.shape == (12, h * w) and tokens.min() >= 1 and tokens.max() <= 8
    prior = GPT(vocab_size=9, block_size=h * w, n_layer=1, n_head=2, n_embd=8)
    with torch.no_grad():  # make the boundary token the likeliest: sampling must still avoid it
        prior.head.weight[0].fill_(1.0)
    codes = model.attach_prior(prior).sample_codes(20)
    assert codes.shape == (20, 1, h, w) and codes.min() >= 0 and codes.max() < 8
    assert model.sample(3).shape == (3, 1, 8, 8)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="vqvae"):
        VQGAN(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="disc_start"):
        VQGAN(_vqvae(), disc_start=-1)
    with pytest.raises(ValueError, match="perceptual_network"):
        VQGAN(_vqvae(), perceptual_network=torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="block_size"):
        VQGAN(_vqvae()).attach_prior(GPT(vocab_size=9, block_size=5, n_layer=1, n_head=2, n_embd=8))
