"""The causal-conv ARM: causality by autograd, normalisation on a tiny space, sampling."""

import itertools

import pytest
import torch

from gdl.autoregressive import MADE, CausalConvARM, PixelCNN
from gdl.nn import CausalConv1d


def dependency_violations(model: CausalConvARM) -> list[tuple[int, int]]:
    """Pairs (i, j) with j >= i such that the logits at position i change with input j.

    The gradient of output i with respect to every input position, on a random continuous
    input, is non-zero exactly where the network connects them.
    """
    torch.manual_seed(0)
    inp = torch.rand(2, 1, model.dims, requires_grad=True)
    logits = model.net(inp)  # (B, K, D)
    bad = []
    for i in range(model.dims):
        (grad,) = torch.autograd.grad(logits[:, :, i].sum(), inp, retain_graph=True)
        for j in range(i, model.dims):
            if grad[:, :, j].abs().max() > 0:
                bad.append((i, j))
    return bad


def test_output_i_depends_only_on_inputs_before_i():
    model = CausalConvARM(event_shape=(1, 4, 4), num_levels=5, hidden=6, kernel_size=3, num_layers=3)
    assert dependency_violations(model) == []


def test_output_i_depends_on_every_input_in_its_receptive_field():
    # 3 layers of 3 taps: position i sees i-1 .. i-7. The check above is not vacuous.
    model = CausalConvARM(event_shape=(1, 4, 4), num_levels=5, hidden=6, kernel_size=3, num_layers=3)
    inp = torch.rand(2, 1, model.dims, requires_grad=True)
    (grad,) = torch.autograd.grad(model.net(inp)[:, :, 10].sum(), inp)
    seen = [j for j in range(model.dims) if grad[:, :, j].abs().max() > 0]
    assert seen == list(range(3, 10))


def test_the_causality_check_catches_a_broken_mask():
    model = CausalConvARM(event_shape=(1, 4, 4), num_levels=5, hidden=6, kernel_size=3, num_layers=3)
    first = model.net[0]
    assert isinstance(first, CausalConv1d) and first.exclude_current
    first.exclude_current, first.left_pad = False, first.left_pad - 1  # now "type B": sees x_i
    violations = dependency_violations(model)
    assert violations and all(i == j for i, j in violations)


def test_probabilities_of_every_input_of_a_tiny_space_sum_to_one():
    # 4 pixels with 3 levels: 81 possible images.
    model = CausalConvARM(event_shape=(1, 2, 2), num_levels=3, hidden=8, kernel_size=2, num_layers=3)
    with torch.no_grad():
        for p in model.parameters():  # a far-from-uniform model makes the check meaningful
            p.mul_(3.0)
    everything = torch.tensor(list(itertools.product(range(3), repeat=4))).view(-1, 1, 2, 2)
    log_p = model.log_prob(everything).double()
    assert log_p.exp().max() > 3 / 81  # not uniform
    assert torch.logsumexp(log_p, 0).item() == pytest.approx(0.0, abs=1e-5)


def test_sampling_frequencies_match_log_prob():
    model = CausalConvARM(event_shape=(1, 1, 2), num_levels=3, hidden=8, kernel_size=2, num_layers=2)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    everything = torch.tensor(list(itertools.product(range(3), repeat=2))).view(-1, 1, 1, 2)
    probs = model.log_prob(everything).exp()
    torch.manual_seed(0)
    s = model.sample(20_000).view(-1, 2)
    freq = torch.bincount(s[:, 0] * 3 + s[:, 1], minlength=9).double() / len(s)
    # Standard error of a frequency from 20 000 draws is at most 0.0036; allow 5 of them.
    assert torch.allclose(freq, probs.double(), atol=0.018)


def test_low_temperature_gives_the_greedy_path():
    model = CausalConvARM(event_shape=(1, 3, 3), num_levels=4, hidden=8, kernel_size=3, num_layers=3)
    x = torch.zeros(1, model.dims, dtype=torch.long)
    with torch.no_grad():
        for i in range(model.dims):
            x[0, i] = model.net(model.encode(x))[0, :, i].argmax()
    samples = model.sample(5, temperature=1e-4)
    assert torch.equal(samples.view(5, -1), x.expand(5, -1))


DISCRETE_PIXEL_MODELS = {
    "CausalConvARM": lambda: CausalConvARM(event_shape=(1, 2, 2), num_levels=3, hidden=4, num_layers=2),
    "MADE": lambda: MADE(event_shape=(1, 2, 2), num_levels=3, hidden=[8]),
    "PixelCNN": lambda: PixelCNN(event_shape=(1, 2, 2), num_levels=3, hidden=4, num_blocks=1),
}


@pytest.mark.parametrize("name", sorted(DISCRETE_PIXEL_MODELS))
def test_discrete_pixel_models_reject_bad_input_with_clear_errors(name):
    model = DISCRETE_PIXEL_MODELS[name]()
    with pytest.raises(ValueError, match="x must have shape"):
        model.log_prob(torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="integers in 0..2"):
        model.log_prob(torch.full((2, 1, 2, 2), 3))
    with pytest.raises(ValueError, match="integers"):
        model.log_prob(torch.zeros(2, 1, 2, 2))
    for temperature in (0.0, -1.0):
        with pytest.raises(ValueError, match="temperature"):
            model.sample(2, temperature=temperature)
    with pytest.raises(ValueError, match="num_levels"):
        type(model)(num_levels=1)


def test_training_lowers_the_nll_of_digits():
    from gdl import data, fit, metrics

    x, _ = data.digits("train")
    model = CausalConvARM(hidden=16, num_layers=3)
    before = metrics.nll(model, x[:200])
    fit(model, x, steps=60, batch_size=64, lr=3e-3, seed=0, progress=False, log_every=0)
    after = metrics.nll(model, x[:200])
    assert after < before - 20
