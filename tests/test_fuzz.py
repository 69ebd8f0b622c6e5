"""Bad input fed to every registered model by Hypothesis.

Each public method of a tiny instance of every model gets batches of the wrong shape or dtype,
levels out of range, NaN and infinity, empty batches, Python lists, and bad sample counts and
temperatures. Every outcome must be one of two:

* a result that is finite everywhere, or
* a :class:`ValueError` or :class:`TypeError` whose message names the argument, after which the
  model is exactly as it was (parameters, buffers and extra state).

Never an ``IndexError`` or ``RuntimeError`` from inside torch, never a silent NaN. The examples
are derandomised and their number fixed, so the run is the same every time and takes seconds;
the counts per model are printed at the end of the test session.
"""

from __future__ import annotations

import copy
import inspect
import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FUZZ_COUNTS, TINY_MODELS

EXAMPLES = 40  # per model

#: how a valid batch is spoilt (or not)
CORRUPTIONS = [
    "valid", "valid_int32", "high", "negative", "nan", "inf", "fraction", "empty", "wrong_size",
    "no_batch", "extra_dim", "bool", "list",
]
BAD_COUNTS = [0, -1, 2.5, True, "3", None, 10**12]
BAD_NUMBERS = [0.0, -1.0, math.nan, math.inf, "1"]


def _discrete(x: torch.Tensor) -> bool:
    return not x.is_floating_point()


def corrupt(x: torch.Tensor, how: str, levels: int | None):
    """A spoilt (or a valid) version of the valid batch ``x``."""
    x = x[:3].clone()
    if how == "valid":
        return x
    if how == "valid_int32":
        return x.int() if _discrete(x) else x.double()
    if how == "high":
        x = x.clone()
        x.view(-1)[0] = (levels or 10**6) if _discrete(x) else 1e3
        return x
    if how == "negative":
        x.view(-1)[0] = -1 if _discrete(x) else -1e3
        return x
    if how in ("nan", "inf"):
        x = x.double()
        x.view(-1)[0] = math.nan if how == "nan" else -math.inf
        return x
    if how == "fraction":
        return x.double() + 0.5
    if how == "empty":
        return x[:0]
    if how == "wrong_size":
        return torch.cat([x, x[..., :1]], dim=-1)
    if how == "no_batch":
        return x[0]
    if how == "extra_dim":
        return x[:, None]
    if how == "bool":
        return x != 0
    if how == "list":
        return x.tolist()
    raise AssertionError(how)


def snapshot(model) -> dict:
    return {k: (v.detach().clone() if isinstance(v, torch.Tensor) else copy.deepcopy(v))
            for k, v in model.state_dict().items()}


def unchanged(model, before: dict) -> bool:
    now = model.state_dict()
    if now.keys() != before.keys():
        return False
    for k, v in now.items():
        old = before[k]
        if isinstance(v, torch.Tensor):
            if v.shape != old.shape or not torch.equal(torch.nan_to_num(v), torch.nan_to_num(old)):
                return False
        elif v != old:
            return False
    return True


def finite(out) -> bool:
    if isinstance(out, torch.Tensor):
        return not out.is_floating_point() or bool(torch.isfinite(out).all())
    if isinstance(out, (int, float)):
        return math.isfinite(out)
    if isinstance(out, dict):
        return all(finite(v) for v in out.values())
    if isinstance(out, (tuple, list)):
        return all(finite(v) for v in out)
    if isinstance(out, torch.distributions.Distribution):
        return True  # a distribution object: its parameters were checked by the model
    return True


def call(name: str, model, method: str, *args, **kwargs) -> str:
    """Call ``model.method``; check the outcome; return "accepted" or "rejected"."""
    fn = getattr(model, method)
    names = set(inspect.signature(fn).parameters) | {"x"}  # the base checks say "x" for the data
    if method == "train_step":
        names |= {"labels"}  # a labelled batch is (x, labels)
    before = snapshot(model)
    try:
        out = fn(*args, **kwargs)
    except (ValueError, TypeError) as err:
        message = str(err)
        assert any(n in message for n in names), f"{name}.{method}: the message names no argument: {message}"
        assert unchanged(model, before), f"{name}.{method}: a rejected call changed the model ({message})"
        return "rejected"
    assert finite(out), f"{name}.{method}{args!r:.200}: a silent NaN or infinity in the result"
    return "accepted"


def data_methods(model) -> list[str]:
    found = [m for m in ("log_prob", "elbo", "energy", "loss", "dequantized_log_prob", "reconstruct")
             if hasattr(model, m)]
    return found


@pytest.mark.parametrize("name", sorted(TINY_MODELS))
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(draw=st.data())
def test_bad_input_gives_a_clear_error_or_a_finite_result(name, draw):
    model, x = TINY_MODELS[name]()
    model.eval()
    levels = getattr(model, "num_levels", None) or getattr(model, "vocab_size", None)
    labelled = getattr(model, "num_classes", None)
    counts = FUZZ_COUNTS.setdefault(name, {"cases": 0, "rejected": 0, "accepted": 0})

    def tally(outcome):
        counts["cases"] += 1
        counts[outcome] += 1

    how = draw.draw(st.sampled_from(CORRUPTIONS), label="corruption")
    bad = corrupt(x, how, levels)
    for method in data_methods(model):
        if method == "dequantized_log_prob" and not getattr(model, "num_levels", None):
            continue
        tally(call(name, model, method, bad))
    if hasattr(model, "score"):
        sigma = draw.draw(st.sampled_from([0.5, *BAD_NUMBERS]), label="sigma")
        if type(model).__name__ == "DDPM":
            t = draw.draw(st.sampled_from([0, 3, -1, 10**6, 1.5]), label="t")
            tally(call(name, model, "score", bad if how != "valid" else x[:3].float(), t))
        else:
            tally(call(name, model, "score", bad, sigma))
    if hasattr(model, "iwae_bound"):
        k = draw.draw(st.sampled_from([2, *BAD_COUNTS[:5]]), label="k")
        tally(call(name, model, "iwae_bound", bad, k=k))
    # a training step: labelled models take (images, labels) batches
    optimizer = model.configure_optimizers(1e-3)
    if labelled:
        labels = draw.draw(st.sampled_from([torch.arange(3) % labelled, torch.tensor([0, labelled, 1]),
                                            torch.zeros(2, dtype=torch.long), torch.ones(3)]), label="labels")
        batch = (bad, labels)
    else:
        batch = bad
    if how != "valid" or labelled:  # a valid unlabelled step is meant to change the model
        outcome = call(name, model, "train_step", batch, optimizer)
        tally(outcome)
    # sampling: the count and, where there is one, the temperature
    n = draw.draw(st.sampled_from([2, *BAD_COUNTS]), label="n")
    if n != 10**12:
        tally(call(name, model, "sample", n))
    if "temperature" in inspect.signature(model.sample).parameters:
        t = draw.draw(st.sampled_from([0.7, *BAD_NUMBERS]), label="temperature")
        tally(call(name, model, "sample", 2, temperature=t))
    if hasattr(model, "generate"):
        idx = bad if how not in ("valid", "valid_int32") else x[:3, :2]
        steps = draw.draw(st.sampled_from([2, -1, 2.5]), label="max_new_tokens")
        tally(call(name, model, "generate", idx, steps))
    if hasattr(model, "complete"):
        known = draw.draw(st.sampled_from([torch.ones(1, *model.event_shape[1:], dtype=torch.bool),
                                           torch.ones(*model.event_shape), "top"]), label="known")
        tally(call(name, model, "complete", bad, known))
