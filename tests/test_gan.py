"""GANs: the optimal discriminator, the gradient penalty, alternating updates, conditioning."""

import math

import pytest
import torch
from torch import nn

import gdl
from gdl.gan import DCGAN, GAN, WGANGP, ConditionalGAN


def _normal_log_prob(x, mean, std):
    return torch.distributions.Normal(mean, std).log_prob(x)


def test_trained_discriminator_approaches_p_over_p_plus_q_and_the_js_divergence():
    # p = N(0, 1) (data), q = N(1, 0.5^2) (a fixed "generator"): D* = p / (p + q).
    torch.manual_seed(0)
    gan = GAN(event_shape=(1,), latent_dim=1, hidden=[32, 32])
    opt_d, _ = gan.configure_optimizers(3e-3)
    for _ in range(1500):
        real, fake = torch.randn(256, 1), 1 + 0.5 * torch.randn(256, 1)
        loss = gan.discriminator_loss(real, fake)
        opt_d.zero_grad()
        loss.backward()
        opt_d.step()
    grid = torch.linspace(-1.5, 2.0, 200)[:, None]
    log_p, log_q = _normal_log_prob(grid, 0.0, 1.0), _normal_log_prob(grid, 1.0, 0.5)
    optimal = torch.sigmoid(log_p - log_q).squeeze(1)
    with torch.no_grad():
        trained = torch.sigmoid(gan.discriminate(grid))
    assert (trained - optimal).abs().max() < 0.06
    # At D*, the discriminator's loss is log 4 - 2 JS(p || q); compute JS by quadrature.
    x = torch.linspace(-8, 8, 20001, dtype=torch.float64)
    p, q = _normal_log_prob(x, 0.0, 1.0).exp(), _normal_log_prob(x, 1.0, 0.5).exp()
    m = (p + q) / 2
    js = 0.5 * torch.trapezoid(p * (p / m).log() + q * (q / m).log().nan_to_num(0.0), x).item()
    with torch.no_grad():
        loss = gan.discriminator_loss(torch.randn(100_000, 1), 1 + 0.5 * torch.randn(100_000, 1))
    assert loss.item() == pytest.approx(math.log(4) - 2 * js, abs=0.03)


def test_gradient_penalty_vanishes_for_a_1_lipschitz_linear_critic():
    x, fake = torch.randn(64, 2), torch.randn(64, 2) + 3
    for norm, expected in [(1.0, 0.0), (3.0, 4.0), (0.5, 0.25)]:
        critic = nn.Linear(2, 1)
        with torch.no_grad():
            critic.weight.copy_(norm * torch.tensor([[0.6, 0.8]]))  # |w| = norm
        wgan = WGANGP(event_shape=(2,), critic=critic)
        assert wgan.gradient_penalty(x, fake).item() == pytest.approx(expected, abs=1e-6)
    # A non-linear critic is not 1-Lipschitz everywhere: a positive penalty.
    assert WGANGP(event_shape=(2,), hidden=[16]).gradient_penalty(x, fake).item() > 1e-3


def test_discriminator_step_leaves_the_generator_untouched_and_vice_versa():
    gan = DCGAN(event_shape=(1, 8, 8), num_levels=17, latent_dim=4, width=4)
    opt_d, opt_g = gan.configure_optimizers(1e-2)
    x = gan.to_network_scale(torch.randint(0, 17, (16, 1, 8, 8)))
    g_before = [p.detach().clone() for p in gan.generator.parameters()]
    d_before = [p.detach().clone() for p in gan.discriminator.parameters()]
    gan.discriminator_step(x, opt_d)
    assert all(torch.equal(a, p) for a, p in zip(g_before, gan.generator.parameters()))
    assert all(p.grad is None for p in gan.generator.parameters())
    assert not all(torch.equal(a, p) for a, p in zip(d_before, gan.discriminator.parameters()))
    d_before = [p.detach().clone() for p in gan.discriminator.parameters()]
    gan.generator_step(16, opt_g)
    assert all(torch.equal(a, p) for a, p in zip(d_before, gan.discriminator.parameters()))
    assert all(p.grad is None for p in gan.discriminator.parameters())
    assert not all(torch.equal(a, p) for a, p in zip(g_before, gan.generator.parameters()))


def test_wgan_gp_moves_the_generator_every_n_critic_steps():
    wgan = WGANGP(event_shape=(2,), hidden=[8], n_critic=3)
    optimizers = wgan.configure_optimizers(1e-2)
    moved = []
    for _ in range(6):
        before = [p.detach().clone() for p in wgan.generator.parameters()]
        wgan.train_step(torch.randn(16, 2), optimizers)
        moved.append(not all(torch.equal(a, p) for a, p in zip(before, wgan.generator.parameters())))
    assert moved == [False, False, True, False, False, True]


def test_non_saturating_loss_keeps_a_gradient_when_the_discriminator_wins():
    # When D(G(z)) -> 0, log(1 - D) is flat in the logit but -log D is not.
    logit = torch.tensor([-8.0], requires_grad=True)
    (torch.nn.functional.softplus(-logit)).sum().backward()  # -log sigma(l)
    non_saturating = logit.grad.abs().item()
    logit.grad = None
    (-torch.nn.functional.softplus(logit)).sum().backward()  # log(1 - sigma(l))
    assert non_saturating > 0.99 and logit.grad.abs().item() < 1e-3
    gan = GAN(event_shape=(1,), hidden=[4])
    fake = torch.randn(10, 1)
    expected = -torch.log(torch.sigmoid(gan.discriminate(fake))).mean()
    assert gan.generator_loss(fake).item() == pytest.approx(expected.item(), rel=1e-5)


def test_a_gan_trained_with_fit_matches_a_1d_gaussian():
    x = 3 + 0.5 * torch.randn(2000, 1, generator=torch.Generator().manual_seed(0))
    gan = GAN(event_shape=(1,), latent_dim=4, hidden=[32, 32])
    history = gdl.fit(gan, x, steps=2000, batch_size=128, lr=1e-3, seed=0, progress=False, log_every=0)
    assert len(history.extra["generator"]) == 2000
    torch.manual_seed(0)
    s = gan.sample(5000)
    assert s.mean().item() == pytest.approx(3.0, abs=0.25)
    assert s.std().item() == pytest.approx(0.5, abs=0.15)


def test_image_scale_round_trips_and_samples_stay_on_the_grey_levels():
    gan = DCGAN(event_shape=(1, 8, 8), num_levels=17, latent_dim=4, width=4)
    x = torch.randint(0, 17, (32, 1, 8, 8))
    y = gan.to_network_scale(x)
    assert y.min() >= -1 and y.max() <= 1
    assert torch.equal(gan.to_data_scale(y).round().long(), x)
    s = gan.sample(50)
    assert s.min() >= 0 and s.max() <= 16


def test_conditional_gan_uses_its_labels():
    model = ConditionalGAN(event_shape=(1, 8, 8), num_levels=17, num_classes=10, latent_dim=4, hidden=[16])
    torch.manual_seed(0)
    a = model.sample(5, labels=torch.zeros(5, dtype=torch.long))
    torch.manual_seed(0)
    b = model.sample(5, labels=torch.ones(5, dtype=torch.long))
    assert not torch.allclose(a, b)
    optimizers = model.configure_optimizers(1e-3)
    with pytest.raises(ValueError, match=r"\(images, labels\)"):
        model.train_step(torch.zeros(4, 1, 8, 8), optimizers)
    with pytest.raises(ValueError, match="labels must hold integers in 0..9"):
        model.sample(2, labels=torch.tensor([0, 10]))
    with pytest.raises(ValueError, match=r"labels must have shape \(2,\)"):
        model.sample(2, labels=torch.zeros(3, dtype=torch.long))
    logs = model.train_step((torch.randint(0, 17, (8, 1, 8, 8)), torch.arange(8)), optimizers)
    assert set(logs) == {"loss", "generator"}


def test_invalid_hyperparameters_raise_clear_errors():
    with pytest.raises(ValueError, match="latent_dim"):
        GAN(latent_dim=0)
    with pytest.raises(ValueError, match="num_levels"):
        GAN(event_shape=(1, 4, 4), num_levels=1)
    with pytest.raises(ValueError, match="event_shape must be"):
        DCGAN(event_shape=(1, 6, 6))
    with pytest.raises(ValueError, match="n_critic"):
        WGANGP(n_critic=0)
    with pytest.raises(ValueError, match="gp_weight"):
        WGANGP(gp_weight=-1.0)
    with pytest.raises(ValueError, match="num_classes"):
        ConditionalGAN(num_classes=1)
    with pytest.raises(ValueError, match="x must have shape"):
        GAN(event_shape=(2,)).train_step(torch.zeros(4, 3), GAN(event_shape=(2,)).configure_optimizers(1e-3))


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize("make", [
    lambda: GAN(event_shape=(1, 2, 2), latent_dim=2, hidden=[8], num_levels=3),
    lambda: WGANGP(event_shape=(1, 2, 2), latent_dim=2, hidden=[8], num_levels=3),
    lambda: DCGAN(event_shape=(1, 4, 4), num_levels=3, latent_dim=2, width=2),
])
def test_gans_of_levels_refuse_levels_out_of_range_and_nan(make):
    model = make()
    shape = model.event_shape
    optimizers = model.configure_optimizers(1e-3)
    before = {k: v.clone() for k, v in model.state_dict().items() if isinstance(v, torch.Tensor)}
    with pytest.raises(ValueError, match="x must hold integers in 0..2, got values in 7..7"):
        model.train_step(torch.full((4, *shape), 7), optimizers)
    with pytest.raises(ValueError, match="x must be finite|x must hold integers"):
        model.train_step(torch.full((4, *shape), float("nan")), optimizers)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items() if k in before)


def test_conditional_gan_refuses_levels_out_of_range():
    model = ConditionalGAN(event_shape=(1, 2, 2), num_levels=3, num_classes=2, latent_dim=2, hidden=[8])
    with pytest.raises(ValueError, match="integers in 0..2"):
        model.train_step((torch.full((4, 1, 2, 2), 7), torch.zeros(4, dtype=torch.long)),
                         model.configure_optimizers(1e-3))


@pytest.mark.parametrize("cls", [GAN, WGANGP])
def test_continuous_gans_refuse_nan_data(cls):
    model = cls(event_shape=(2,), latent_dim=2, hidden=[8])
    x = torch.randn(8, 2)
    x[3, 1] = float("nan")
    with pytest.raises(ValueError, match="x must be finite"):
        model.train_step(x, model.configure_optimizers(1e-3))
