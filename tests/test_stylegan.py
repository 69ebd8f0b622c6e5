"""The style-based generator: demodulation, the grouped convolution, truncation, style mixing."""

import pytest
import torch
from torch.nn import functional as F

from gdl.gan import StyleGAN, modulated_conv2d


def _model(**kwargs):
    torch.manual_seed(0)
    return StyleGAN(event_shape=(1, 8, 8), num_levels=4, latent_dim=5, width=6, start_resolution=2, **kwargs)


def test_scaling_a_style_by_a_positive_constant_leaves_a_demodulated_convolution_unchanged():
    torch.manual_seed(0)
    x, weight, s = torch.randn(3, 4, 6, 6), torch.randn(5, 4, 3, 3), torch.rand(3, 4) + 0.2
    scaled = s.clone()
    scaled[1] *= 10.0  # one example's whole style vector
    y = modulated_conv2d(x, weight, s)
    assert torch.allclose(modulated_conv2d(x, weight, scaled), y, atol=1e-5)
    # without demodulation the output scales with the style
    plain = modulated_conv2d(x, weight, scaled, demodulate=False)
    assert torch.allclose(plain[1], 10 * modulated_conv2d(x, weight, s, demodulate=False)[1], atol=1e-4)
    # demodulated output channels have unit expected variance for unit-variance inputs
    x = torch.randn(256, 4, 6, 6)
    y = modulated_conv2d(x, weight, torch.rand(256, 4) + 0.2)[:, :, 1:-1, 1:-1]
    assert y.var().item() == pytest.approx(1.0, rel=0.15)


def test_the_grouped_modulated_convolution_equals_a_loop_over_the_batch():
    torch.manual_seed(0)
    x, weight, s = torch.randn(4, 3, 5, 5), torch.randn(2, 3, 3, 3), torch.randn(4, 3)
    for demodulate in (True, False):
        y = modulated_conv2d(x, weight, s, demodulate=demodulate)
        for b in range(4):
            w = weight * s[b][None, :, None, None]
            if demodulate:
                w = w / (w.pow(2).sum((1, 2, 3), keepdim=True) + 1e-8).sqrt()
            assert torch.allclose(y[b : b + 1], F.conv2d(x[b : b + 1], w, padding=1), atol=1e-5)
        # the unfused form (styles on the inputs, demodulation on the outputs) is the same map
        assert torch.allclose(modulated_conv2d(x, weight, s, demodulate=demodulate, fused=False), y, atol=1e-5)


def test_truncation_psi_0_gives_the_mean_style_for_every_sample():
    model = _model()
    model.w_avg.copy_(torch.randn(5))
    torch.manual_seed(1)
    x = model.sample(6, psi=0.0, noise_mode="const")
    assert torch.allclose(x, x[:1].expand_as(x), atol=1e-5)  # identical up to rounding
    assert (x - x.mean(0)).abs().max() < 1e-5
    mean_image = model.to_data_scale(model.synthesize(model.broadcast(model.w_avg[None]), noise_mode="const"))
    assert torch.allclose(x[0], mean_image[0], atol=1e-5)
    z = torch.randn(4, 5)
    w = model.mapping(z)
    assert torch.allclose(model.mapping(z, psi=0.5), model.w_avg + 0.5 * (w - model.w_avg))
    assert not torch.equal(model.sample(6, psi=1.0, noise_mode="const")[0], model.sample(1, noise_mode="const")[0])


def test_the_estimated_mean_w_is_the_mean_of_the_current_mapping_and_leaves_the_random_state_alone():
    model = _model()
    model.w_avg.fill_(5.0)  # a stale centre, e.g. one tracked with other weights
    state = torch.get_rng_state()
    w_avg = model.estimate_w_avg(4000, seed=3).clone()
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(w_avg, model.w_avg) and torch.equal(model.estimate_w_avg(4000, seed=3), w_avg)
    with torch.no_grad():
        w = model.generator["mapping"](torch.randn(40_000, 5, generator=torch.Generator().manual_seed(1)))
    assert torch.allclose(model.w_avg, w.mean(0), atol=6 * w.std(0).max().item() / 4000**0.5)
    # the centre follows the weights the model holds now (after averaging, say), not the old ones
    with torch.no_grad():
        model.generator["mapping"].layers[-1].bias.add_(100.0)  # shifts every w (lr multiplier 0.01)
    assert (model.estimate_w_avg(4000, seed=3) - w_avg).min() > 0.1
    with pytest.raises(ValueError, match="num_codes"):
        model.estimate_w_avg(0)


def test_style_mixing_takes_coarse_layers_from_one_code_and_fine_from_the_other():
    model = _model()
    a, b = model.mapping(torch.randn(2, 5)), model.mapping(torch.randn(2, 5))
    ws = model.mix(a, b, 2)
    assert torch.equal(ws[:, :2], a[:, None].expand(-1, 2, -1)) and torch.equal(ws[:, 2:], b[:, None].expand_as(ws[:, 2:]))
    assert torch.equal(model.mix(a, b, 0), model.broadcast(b))
    with pytest.raises(ValueError, match="crossover"):
        model.mix(a, b, model.num_ws + 1)


def test_noise_changes_details_only_through_the_learned_strengths():
    model = _model()
    ws = model.broadcast(model.mapping(torch.randn(3, 5)))
    assert torch.equal(model.synthesize(ws, noise_mode="none"), model.synthesize(ws, noise_mode="random"))  # strengths 0
    for layer in model.generator["synthesis"].layers:
        layer.noise_strength.data.fill_(0.5)
    assert not torch.allclose(model.synthesize(ws, noise_mode="random"), model.synthesize(ws, noise_mode="random"))
    assert torch.equal(model.synthesize(ws, noise_mode="const"), model.synthesize(ws, noise_mode="const"))


def test_training_tracks_the_mean_w_and_the_r1_penalty_is_added():
    model = _model()
    opt = model.configure_optimizers(1e-3)
    logs = model.train_step(torch.randint(0, 4, (8, 1, 8, 8)), opt)
    assert logs["loss"] > 0 and model.w_avg.abs().sum() > 0
    x, fake = torch.randn(8, 1, 8, 8), torch.randn(8, 1, 8, 8)
    model.r1_gamma = 0.0
    plain = model.discriminator_loss(x, fake)
    model.r1_gamma = 10.0
    assert int(model.steps_done) == 1 and torch.equal(model.discriminator_loss(x, fake), plain)  # lazy: not this step
    model.steps_done.fill_(model.r1_every)
    assert model.discriminator_loss(x, fake) > plain


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="event_shape"):
        StyleGAN(event_shape=(1, 28, 28), start_resolution=5)
    with pytest.raises(ValueError, match="noise_mode"):
        _model().sample(2, noise_mode="fixed")
    with pytest.raises(ValueError, match="psi"):
        _model().sample(2, psi=-1.0)
