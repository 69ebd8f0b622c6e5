"""gdl._checks: every check names the argument, says what was expected, and shows what came."""

import math

import pytest
import torch

from gdl import _checks as checks


@pytest.mark.parametrize("value", [0, -3, 2.0, True, "3", None])
def test_positive_int_rejects_everything_but_ints_of_at_least_one(value):
    with pytest.raises(ValueError, match=rf"hidden must be a positive int, got {value!r}"):
        checks.positive_int(value, "hidden")


def test_ints_event_shape_and_num_levels():
    assert checks.ints((3, 4), "hidden") == [3, 4]
    assert checks.ints([], "hidden", allow_empty=True) == []
    for bad in ([], [3, 0], "34", 3, [2.5]):
        with pytest.raises(ValueError, match="hidden must be"):
            checks.ints(bad, "hidden")
    assert checks.event_shape([1, 8, 8]) == (1, 8, 8)
    with pytest.raises(ValueError, match=r"event_shape must be 3 positive ints, got \(8, 8\)"):
        checks.event_shape((8, 8), ndim=3)
    for bad in ((), (0, 2), None, (2.0,)):
        with pytest.raises(ValueError, match="event_shape must be"):
            checks.event_shape(bad)
    assert checks.num_levels(17) == 17 and checks.num_levels(None, optional=True) is None
    with pytest.raises(ValueError, match="num_levels must be an int >= 2, got 1"):
        checks.num_levels(1)
    with pytest.raises(ValueError, match="num_levels must be None or an int >= 2"):
        checks.num_levels(1.5, optional=True)


def test_numbers_respect_their_interval_and_reject_nan_and_infinity():
    assert checks.number(0.5, "p", low=0.0, high=1.0) == 0.5
    assert checks.probability(0.0, "dropout") == 0.0
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\), got 1"):
        checks.probability(1, "dropout")
    assert checks.probability(1.0, "reinit", include_one=True) == 1.0
    for bad in (0.0, -1.0, math.nan, math.inf, "1", True):
        with pytest.raises(ValueError, match=r"temperature must be a number in \(0, inf\)"):
            checks.temperature(bad)
    assert checks.positive(None, "grad_clip", optional=True) is None
    with pytest.raises(ValueError, match="mode must be one of"):
        checks.one_of("median", "mode", ("mean", "max"))


def test_tensors_batches_and_finiteness():
    with pytest.raises(TypeError, match="x must be a torch.Tensor, got list"):
        checks.batch([[1.0, 2.0]], (2,))
    x = torch.zeros(3, 2)
    assert checks.batch(x, (2,)) is x
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 2\), got \(3, 3\)"):
        checks.batch(torch.zeros(3, 3), (2,))
    with pytest.raises(ValueError, match="x must hold at least one example"):
        checks.batch(torch.zeros(0, 2), (2,))
    with pytest.raises(ValueError, match="x must be finite, got 2 NaN or infinite"):
        checks.batch(torch.tensor([[math.nan, 0.0], [0.0, math.inf]]), (2,))
    with pytest.raises(ValueError, match="x must hold real numbers"):
        checks.batch(torch.zeros(3, 2, dtype=torch.bool), (2,))


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8])
def test_levels_accepts_integers_in_range_and_returns_int64(dtype):
    x = torch.tensor([[0, 2, 1]], dtype=dtype)
    out = checks.levels(x, 3)
    assert out.dtype == torch.int64 and torch.equal(out, x.long())


@pytest.mark.parametrize(
    "x, message",
    [
        (torch.tensor([[0, 3]]), r"x must hold integers in 0..2, got values in 0..3"),
        (torch.tensor([[-1, 0]]), r"x must hold integers in 0..2, got values in -1..0"),
        (torch.tensor([[0.0, 1.0]]), r"x must hold integers in 0..2, got dtype torch.float32"),
        (torch.tensor([[True, False]]), r"x must hold integers in 0..2, got dtype torch.bool"),
    ],
)
def test_levels_rejects_values_out_of_range_and_non_integers(x, message):
    with pytest.raises(ValueError, match=message):
        checks.levels(x, 3)


def test_within_and_labels():
    assert checks.within(torch.tensor([0.0, 3.0]), 0.0, 3.0) is not None
    with pytest.raises(ValueError, match=r"y must lie in \(0, 3\)"):
        checks.within(torch.tensor([0.0, 1.0]), 0.0, 3.0, "y", open=True)
    assert torch.equal(checks.labels(torch.tensor([1, 0]), 2, 3), torch.tensor([1, 0]))
    with pytest.raises(ValueError, match=r"labels must have shape \(2,\), got \(3,\)"):
        checks.labels(torch.tensor([1, 0, 2]), 2, 3)
