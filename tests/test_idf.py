"""Integer discrete flows: an exact bijection of integers and probabilities that sum to one."""

import itertools

import torch

from gdl.flows import IDF, DiscretizedLogisticMixture, IntegerCoupling, round_ste


def _perturb(model, scale=2.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale)


def test_inverse_undoes_forward_bit_for_bit_on_integers():
    model = IDF(event_shape=(1, 4, 4), num_levels=17, num_couplings=6, hidden=[16], prior_chunks=2)
    _perturb(model)  # large, varied translations
    x = torch.randint(-1000, 1000, (256, 1, 4, 4))
    z = model(x)
    assert torch.equal(z, z.round())  # integers
    assert (z - x.flatten(1)).abs().max() > 0  # the layers did move something
    assert torch.equal(model.inverse(z), x)


def test_integer_coupling_keeps_its_half_and_is_its_own_inverse():
    layer = IntegerCoupling(torch.tensor([True, False] * 3), hidden=[8])
    x = torch.randint(-50, 50, (32, 6)).float()
    z = layer(x)
    assert torch.equal(z[:, ::2], x[:, ::2])
    assert torch.equal(layer.inverse(z), x)


def test_round_ste_rounds_forward_and_passes_the_gradient_straight_through():
    x = torch.tensor([-1.6, -0.4, 0.4, 2.5], requires_grad=True)
    y = round_ste(x)
    (y * torch.arange(4.0)).sum().backward()
    assert torch.equal(y, torch.round(x.detach()))
    assert torch.equal(x.grad, torch.arange(4.0))


def test_the_prior_probabilities_over_the_integers_sum_to_one():
    g = torch.Generator().manual_seed(0)
    logits, loc, log_scale = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g) * 5, \
        torch.randn(5, 3, generator=g).clamp(-2, 2)
    p = DiscretizedLogisticMixture(logits, loc, log_scale)
    z = torch.arange(-400, 401).float().view(-1, 1).expand(-1, 5)  # (801, 5) against batch (5,)
    total = p.log_prob(z).exp().sum(0)
    assert torch.allclose(total, torch.ones(5), atol=1e-5)


def test_prior_samples_follow_its_probabilities():
    p = DiscretizedLogisticMixture(torch.tensor([0.0, 1.0]), torch.tensor([-2.0, 3.3]), torch.tensor([0.0, -1.0]))
    g = torch.Generator().manual_seed(0)
    batch = DiscretizedLogisticMixture(*(t.expand(20_000, 2) for t in (torch.tensor([0.0, 1.0]),
                                        torch.tensor([-2.0, 3.3]), torch.tensor([0.0, -1.0]))))
    z = batch.sample(g)
    for v in (-2, 0, 3, 4):
        assert abs((z == v).float().mean() - p.log_prob(torch.tensor(float(v))).exp()) < 0.012


def test_probabilities_of_the_model_on_a_tiny_space_sum_to_one():
    L = 48
    model = IDF(event_shape=(1, 1, 2), num_levels=L, num_couplings=4, hidden=[8], num_mixtures=2, prior_chunks=2)
    _perturb(model, scale=0.3)
    with torch.no_grad():  # keep the prior's mass well inside 0 .. L-1
        model.first[:, 2:4] = torch.tensor([[18.0, 28.0]])
        model.first[:, 4:] = 0.0
    x = torch.tensor(list(itertools.product(range(L), repeat=2))).view(-1, 1, 1, 2)
    total = model.log_prob(x).exp().sum()
    assert abs(total.item() - 1) < 1e-4


def test_log_prob_is_exact_and_differentiable():
    model = IDF(event_shape=(1, 3, 3), num_levels=4, num_couplings=2, hidden=[8], prior_chunks=3)
    x = torch.randint(0, 4, (8, 1, 3, 3))
    lp = model.log_prob(x)
    assert (lp < 0).all()
    (-lp.mean()).backward()
    assert all(p.grad is not None for p in model.parameters())
