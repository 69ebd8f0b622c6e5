"""MADE and PixelCNN: causality by autograd, normalisation on a tiny space, sampling, errors."""

import itertools

import pytest
import torch

from gdl.autoregressive import MADE, PixelCNN
from gdl.nn import MaskedConv2d, MaskedLinear


def dependencies(logits_fn, inp: torch.Tensor, position_of) -> dict[int, list[int]]:
    """For each output dimension, the input dimensions its logits have a gradient for.

    ``logits_fn`` maps a continuous input ``(B, *shape)`` to logits; ``position_of(logits, d)``
    picks the logits of dimension ``d``. The gradient, on a random input, is non-zero exactly
    where the network connects the two.
    """
    inp = inp.clone().requires_grad_(True)
    logits = logits_fn(inp)
    dims = inp[0].numel()
    seen = {}
    for d in range(dims):
        (grad,) = torch.autograd.grad(position_of(logits, d).sum(), inp, retain_graph=True)
        grad = grad.abs().sum(0).flatten()  # (D,)
        seen[d] = [j for j in range(dims) if grad[j] > 0]
    return seen


def violations(seen: dict[int, list[int]], ordering: list[int]) -> list[tuple[int, int]]:
    """Pairs (d, j): output d depends on input j although j does not come before d."""
    rank = {d: r for r, d in enumerate(ordering)}
    return [(d, j) for d, js in seen.items() for j in js if rank[j] >= rank[d]]


def far_from_uniform(model):
    with torch.no_grad():
        for p in model.parameters():  # a far-from-uniform model makes normalisation meaningful
            p.mul_(3.0)
    return model


# ---------------------------------------------------------------------------------- MADE
ORDER = [3, 0, 5, 1, 4, 2]


def made_dependencies(model: MADE) -> dict[int, list[int]]:
    inp = torch.rand(2, model.dims, generator=torch.Generator().manual_seed(0))
    return dependencies(model.logits, inp, lambda logits, d: logits[:, d])


@pytest.mark.parametrize("num_levels", [2, 4])
def test_made_output_depends_exactly_on_the_inputs_before_it_in_its_ordering(num_levels):
    model = MADE(event_shape=(6,), num_levels=num_levels, hidden=[12, 12], ordering=ORDER)
    seen = made_dependencies(model)
    assert violations(seen, ORDER) == []
    # Not vacuous: with every degree present, each output sees its whole past.
    for r, d in enumerate(ORDER):
        assert seen[d] == sorted(ORDER[:r])


def test_made_causality_check_catches_a_broken_mask():
    model = MADE(event_shape=(6,), num_levels=3, hidden=[12], ordering=ORDER)
    first = model.net[0]
    assert isinstance(first, MaskedLinear)
    first.mask.fill_(1.0)  # every hidden unit now sees every input
    assert violations(made_dependencies(model), ORDER)


def test_made_seed_draws_a_reproducible_permutation():
    a, b = MADE(event_shape=(10,), seed=1), MADE(event_shape=(10,), seed=1)
    assert torch.equal(a.ordering, b.ordering)
    assert sorted(a.ordering.tolist()) == list(range(10))
    assert a.ordering.tolist() != list(range(10))
    assert MADE(event_shape=(10,)).ordering.tolist() == list(range(10))


@pytest.mark.parametrize("num_levels", [2, 3])
def test_made_probabilities_of_a_tiny_space_sum_to_one(num_levels):
    model = far_from_uniform(MADE(event_shape=(4,), num_levels=num_levels, hidden=[8], seed=2))
    everything = torch.tensor(list(itertools.product(range(num_levels), repeat=4)))
    log_p = model.log_prob(everything).double()
    assert log_p.exp().max() > 3 / len(everything)  # not uniform
    assert torch.logsumexp(log_p, 0).item() == pytest.approx(0.0, abs=1e-5)


def test_made_with_a_broken_mask_is_not_normalised():
    model = far_from_uniform(MADE(event_shape=(4,), num_levels=3, hidden=[8], seed=2))
    model.net[-1].mask.fill_(1.0)  # outputs may now see their own input
    everything = torch.tensor(list(itertools.product(range(3), repeat=4)))
    assert abs(torch.logsumexp(model.log_prob(everything).double(), 0).item()) > 1e-3


def test_made_sampling_frequencies_match_log_prob():
    model = far_from_uniform(MADE(event_shape=(2,), num_levels=3, hidden=[8], ordering=[1, 0]))
    everything = torch.tensor(list(itertools.product(range(3), repeat=2)))
    probs = model.log_prob(everything).exp().double()
    s = model.sample(20_000)
    freq = torch.bincount(s[:, 0] * 3 + s[:, 1], minlength=9).double() / len(s)
    # Standard error of a frequency from 20 000 draws is at most 0.0036; allow 5 of them.
    assert torch.allclose(freq, probs, atol=0.018)


@pytest.mark.parametrize("num_levels", [2, 4])
def test_made_low_temperature_gives_the_greedy_path(num_levels):
    model = MADE(event_shape=(5,), num_levels=num_levels, hidden=[16], seed=3)
    x = torch.zeros(1, 5, dtype=torch.long)
    with torch.no_grad():
        for d in model.ordering.tolist():
            logits = model.logits(model.encode(x))[0, d]
            x[0, d] = (logits > 0).long() if num_levels == 2 else logits.argmax()
    samples = model.sample(5, temperature=1e-4)
    assert torch.equal(samples, x.expand(5, -1))


def test_made_rejects_bad_orderings_and_sizes_with_clear_errors():
    with pytest.raises(ValueError, match="ordering must be a permutation"):
        MADE(event_shape=(4,), ordering=[0, 1, 1, 2])
    with pytest.raises(ValueError, match="ordering must be a permutation"):
        MADE(event_shape=(4,), ordering=[0, 1, 2])
    with pytest.raises(ValueError, match="ordering or seed"):
        MADE(event_shape=(4,), ordering=[0, 1, 2, 3], seed=0)
    with pytest.raises(ValueError, match="hidden"):
        MADE(event_shape=(4,), hidden=[])


# ---------------------------------------------------------------------------------- PixelCNN
def pixelcnn_dependencies(model: PixelCNN) -> dict[int, list[int]]:
    _, height, width = model.event_shape
    # Continuous relaxed input in the encoded range [0, 1], so autograd has something to flow to.
    inp = torch.rand(2, 1, height, width, generator=torch.Generator().manual_seed(0))
    return dependencies(model.logits, inp, lambda logits, d: logits[:, :, d // width, d % width])


def small_pixelcnn(**kw):
    kw = {"event_shape": (1, 5, 5), "num_levels": 3, "hidden": 6, "num_blocks": 2} | kw
    return PixelCNN(**kw)


def test_pixelcnn_output_depends_exactly_on_the_pixels_before_it():
    model = small_pixelcnn()  # 7x7 first layer + 2 blocks of 3x3: reaches across a 5x5 image
    seen = pixelcnn_dependencies(model)
    assert violations(seen, list(range(25))) == []
    # No blind spot: the gated stacks see the whole raster-order past of every pixel.
    assert all(seen[d] == list(range(d)) for d in range(25))


def test_pixelcnn_causality_check_catches_a_type_b_first_layer():
    model = small_pixelcnn()
    assert model.h_in.mask_type == "A"
    model.h_in.mask.copy_(MaskedConv2d(1, 1, 7, mask_type="B").mask)  # now sees x_ij itself
    bad = violations(pixelcnn_dependencies(model), list(range(25)))
    assert bad and all(d == j for d, j in bad)


def test_pixelcnn_probabilities_of_a_tiny_space_sum_to_one():
    # 2x2 images with 3 levels: 81 possible images.
    model = far_from_uniform(PixelCNN(event_shape=(1, 2, 2), num_levels=3, hidden=6, num_blocks=1))
    everything = torch.tensor(list(itertools.product(range(3), repeat=4))).view(-1, 1, 2, 2)
    log_p = model.log_prob(everything).double()
    assert log_p.exp().max() > 3 / 81  # not uniform
    assert torch.logsumexp(log_p, 0).item() == pytest.approx(0.0, abs=1e-5)


def test_pixelcnn_with_a_type_b_first_layer_is_not_normalised():
    model = far_from_uniform(PixelCNN(event_shape=(1, 2, 2), num_levels=3, hidden=6, num_blocks=1))
    model.h_in.mask.copy_(MaskedConv2d(1, 1, 7, mask_type="B").mask)
    everything = torch.tensor(list(itertools.product(range(3), repeat=4))).view(-1, 1, 2, 2)
    assert abs(torch.logsumexp(model.log_prob(everything).double(), 0).item()) > 1e-3


def test_pixelcnn_sampling_frequencies_match_log_prob():
    model = far_from_uniform(PixelCNN(event_shape=(1, 1, 2), num_levels=3, hidden=6, num_blocks=1))
    everything = torch.tensor(list(itertools.product(range(3), repeat=2))).view(-1, 1, 1, 2)
    probs = model.log_prob(everything).exp().double()
    s = model.sample(20_000).view(-1, 2)
    freq = torch.bincount(s[:, 0] * 3 + s[:, 1], minlength=9).double() / len(s)
    assert torch.allclose(freq, probs, atol=0.018)


def test_pixelcnn_low_temperature_gives_the_greedy_path():
    model = small_pixelcnn(event_shape=(1, 3, 3), num_levels=4)
    x = torch.zeros(1, 1, 3, 3, dtype=torch.long)
    with torch.no_grad():
        for i, j in itertools.product(range(3), range(3)):
            x[0, 0, i, j] = model.logits(model.encode(x))[0, :, i, j].argmax()
    samples = model.sample(5, temperature=1e-4)
    assert torch.equal(samples, x.expand(5, -1, -1, -1))


@pytest.mark.parametrize("kernel_size", [3, 7])
def test_pixelcnn_row_by_row_sampler_gives_the_logits_of_the_full_pass(kernel_size):
    # The sampler reruns only row i of the horizontal stack; its logits must be the full pass's.
    model = far_from_uniform(small_pixelcnn(event_shape=(1, 6, 5), kernel_size=kernel_size))
    x = torch.randint(0, 3, (4, 1, 6, 5))
    with torch.no_grad():
        full = model.logits(model.encode(x))  # (4, K, 6, 5)
        for i in range(6):
            row = model._row_logits(x, i, model._vertical_row(x, i))
            assert torch.allclose(row, full[:, :, i], atol=1e-5), f"row {i}"


def test_pixelcnn_complete_keeps_known_pixels_and_fills_the_rest():
    model = small_pixelcnn(event_shape=(1, 4, 4), num_levels=3)
    x = torch.randint(0, 3, (6, 1, 4, 4))
    known = torch.zeros(1, 4, 4, dtype=torch.bool)
    known[:, :2] = True  # the top half
    out = model.complete(x, known)
    assert out.shape == x.shape and out.dtype == torch.long
    assert torch.equal(out[:, :, :2], x[:, :, :2])
    assert 0 <= out.min() and out.max() <= 2
    # An all-known mask returns the input unchanged, and nothing is drawn.
    assert torch.equal(model.complete(x, torch.ones_like(x, dtype=torch.bool)), x)


def test_pixelcnn_complete_of_a_top_half_draws_from_the_exact_conditional():
    # Two pixels, the first known: the second must follow p(x_2 | x_1) = p(x_1, x_2) / p(x_1).
    model = far_from_uniform(PixelCNN(event_shape=(1, 1, 2), num_levels=3, hidden=6, num_blocks=1))
    x = torch.tensor([[[[2, 0]]]]).expand(20_000, -1, -1, -1)
    known = torch.tensor([[[True, False]]])
    out = model.complete(x, known)
    freq = torch.bincount(out[:, 0, 0, 1], minlength=3).double() / len(out)
    joint = model.log_prob(torch.tensor([[[[2, k]]] for k in range(3)])).exp().double()
    assert torch.allclose(freq, joint / joint.sum(), atol=0.018)


def test_pixelcnn_rejects_bad_masks_and_sizes_with_clear_errors():
    model = small_pixelcnn(event_shape=(1, 2, 2))
    x = torch.zeros(2, 1, 2, 2, dtype=torch.long)
    with pytest.raises(ValueError, match="known must be a boolean"):
        model.complete(x, torch.ones(2, 1, 2, 2))
    with pytest.raises(ValueError, match="known must have the shape"):
        model.complete(x, torch.ones(3, 1, 2, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="event_shape"):
        PixelCNN(event_shape=(3, 8, 8))
    with pytest.raises(ValueError, match="kernel_size"):
        PixelCNN(kernel_size=4)
    with pytest.raises(ValueError, match="dropout"):
        PixelCNN(dropout=1.0)
    with pytest.raises(ValueError, match="mask_type"):
        MaskedConv2d(1, 1, 3, mask_type="C")
