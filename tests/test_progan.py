"""ProGAN: the fade-in, the growth schedule, the layers with an equalized learning rate."""

import functools

import pytest
import torch
from torch.nn import functional as F

import gdl
from gdl.gan import EqualizedConv2d, MinibatchStd, PixelNorm, ProGAN
from gdl.gan.progan import R1Penalty


def _model(**kwargs):
    torch.manual_seed(0)
    return ProGAN(event_shape=(1, 8, 8), num_levels=17, latent_dim=5, width=16, phase_steps=10, **kwargs)


def test_fade_in_at_alpha_0_is_the_upsampled_lower_resolution_and_at_alpha_1_the_new_block():
    model = _model()
    z = torch.randn(7, 5)
    for resolution in (4, 8):
        low = model.generate(z, resolution=resolution // 2, alpha=1.0)
        faded_out = model.generate(z, resolution=resolution, alpha=0.0)
        assert torch.equal(faded_out, F.interpolate(low, scale_factor=2, mode="nearest"))
        # alpha = 1: the new block and its to_rgb alone, computed here by hand
        g, level = model.generator, resolution.bit_length() - 2
        h = g.norm(F.leaky_relu(g.conv(g.norm(F.leaky_relu(g.project(g.norm(z)).view(7, 16, 2, 2), 0.2))), 0.2))
        for block in g.blocks[:level]:
            h = block(h)
        assert torch.allclose(model.generate(z, resolution=resolution, alpha=1.0), g.to_rgb[level](h), atol=1e-6)
        half = model.generate(z, resolution=resolution, alpha=0.5)
        assert torch.allclose(half, 0.5 * g.to_rgb[level](h) + 0.5 * faded_out, atol=1e-6)


def test_discriminator_fade_in_at_alpha_0_sees_the_pooled_image_through_the_lower_resolution():
    model = _model()
    x = torch.randn(8, 1, 8, 8)
    d = model.discriminator
    assert torch.allclose(d(x, 2, 0.0), d(F.avg_pool2d(x, 2), 1, 1.0), atol=1e-6)


def test_schedule_phases_and_one_fit_call_runs_it():
    model = _model()
    assert [model.stage(s) for s in (0, 9, 10, 15, 20, 35, 40, 1000)] == [
        (2, 1.0), (2, 1.0), (4, 0.0), (4, 0.5), (4, 1.0), (8, 0.5), (8, 1.0), (8, 1.0)]
    assert model.growth_steps == 40
    x = torch.randint(0, 17, (64, 1, 8, 8), generator=torch.Generator().manual_seed(0))
    history = gdl.fit(model, x, steps=45, batch_size=16, seed=0, progress=False, log_every=0)
    assert int(model.steps_done) == 45
    assert history.extra["resolution"][:11] == [2.0] * 10 + [4.0]
    assert history.extra["alpha"][10:12] == [0.0, 0.1] and history.extra["alpha"][-1] == 1.0
    assert model.sample(3).shape == (3, 1, 8, 8)


def test_real_images_follow_the_stage():
    model = _model()
    x = torch.randn(4, 1, 8, 8)
    pooled = F.avg_pool2d(x, 2)
    assert torch.allclose(model.real_at(x, 4, 1.0), pooled)
    assert torch.allclose(model.real_at(x, 4, 0.0), F.interpolate(F.avg_pool2d(pooled, 2), scale_factor=2))
    assert torch.equal(model.real_at(x, 8, 1.0), x)


def test_lazy_r1_penalty_every_r1_every_steps_is_r1_every_times_as_strong_and_trains_the_discriminator():
    model = _model(r1_gamma=2.0, r1_every=3)
    x, fake = torch.randn(8, 1, 8, 8), torch.randn(8, 1, 8, 8)
    model.steps_done.fill_(43)  # full resolution; 43 % 3 != 0: no penalty on this step
    model.r1_gamma = 0.0
    plain = model.discriminator_loss(x, fake)
    model.r1_gamma = 2.0
    assert torch.equal(model.discriminator_loss(x, fake), plain)
    model.steps_done.fill_(42)
    xr = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model.discriminate(xr).sum(), xr)
    expected = plain + 3 * 2.0 / 2 * grad.pow(2).sum((1, 2, 3)).mean()
    penalised = model.discriminator_loss(x, fake)
    assert torch.allclose(penalised, expected, rtol=1e-5)
    # the penalty is a function of the discriminator's weights (a double backward), not a constant
    weight = model.discriminator.out.weight
    (with_penalty,) = torch.autograd.grad(penalised, weight)
    (without,) = torch.autograd.grad(plain, weight)
    assert not torch.allclose(with_penalty, without)


def test_equalized_learning_rate_scales_the_weights_at_run_time():
    torch.manual_seed(0)
    conv = EqualizedConv2d(16, 8, 3)
    assert conv.weight.std().item() == pytest.approx(1.0, abs=0.1)  # stored as N(0, 1)
    x = torch.randn(64, 16, 6, 6)
    y = conv(x)[:, :, 1:-1, 1:-1]  # away from the zero padding
    assert y.pow(2).mean().item() == pytest.approx(2.0, rel=0.2)  # He's gain sqrt(2): variance 2


def test_pixel_norm_gives_unit_mean_square_and_minibatch_std_adds_the_spread():
    y = PixelNorm()(torch.randn(3, 5, 2, 2) * 7)
    assert torch.allclose(y.pow(2).mean(1), torch.ones(3, 2, 2), atol=1e-4)
    x = torch.randn(8, 3, 2, 2)
    out = MinibatchStd(group_size=8)(x)
    assert out.shape == (8, 4, 2, 2)
    expected = x.std(0, unbiased=False).mean()
    assert torch.allclose(out[:, 3], expected.expand(8, 2, 2), atol=1e-5)
    assert torch.allclose(MinibatchStd()(torch.zeros(4, 3, 2, 2))[:, 3], torch.full((4, 2, 2), 1e-4))


def test_minibatch_std_groups_consecutive_examples_so_concatenated_batches_do_not_mix():
    real, fake = torch.randn(8, 3, 2, 2), 5 * torch.randn(8, 3, 2, 2)
    joint = MinibatchStd()(torch.cat([real, fake]))
    assert torch.allclose(joint[:8], MinibatchStd()(real)) and torch.allclose(joint[8:], MinibatchStd()(fake))
    group = real[4:8].std(0, unbiased=False).mean()  # examples 4..7 form the second group
    assert torch.allclose(joint[4:8, 3], group.expand(4, 2, 2), atol=1e-5)


@pytest.mark.parametrize("step", [0, 1, 13])  # with the R1 penalty, without, and during a fade-in
def test_one_pass_for_real_and_fake_gives_the_loss_and_gradients_of_two_passes(step):
    model = _model(r1_every=4)
    model.steps_done.fill_(step)
    resolution, alpha = model.stage()
    x = model.real_at(torch.rand(8, 1, 8, 8) * 2 - 1, resolution, alpha)
    fake = model.generate(torch.randn(8, 5)).detach()
    grads = []
    for two_passes in (False, True):
        if two_passes:  # R1Penalty's own logits: the real images and the fakes in separate passes
            model.real_and_fake_logits = functools.partial(R1Penalty.real_and_fake_logits, model)
        model.discriminator.zero_grad()
        loss = model.discriminator_loss(x, fake)
        loss.backward()
        grads.append((loss.detach(), [p.grad.clone() for p in model.discriminator.parameters() if p.grad is not None]))
    (joint, g1), (two, g2) = grads
    assert torch.allclose(joint, two, atol=1e-5) and len(g1) == len(g2)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(g1, g2))


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="event_shape"):
        ProGAN(event_shape=(1, 12, 12))
    with pytest.raises(ValueError, match="phase_steps"):
        ProGAN(phase_steps=0)
    with pytest.raises(ValueError, match="resolution must be one of"):
        _model().generate(torch.randn(2, 5), resolution=3)
    with pytest.raises(ValueError, match="alpha"):
        _model().generate(torch.randn(2, 5), alpha=1.5)
