"""Every model follows the contract: finite loss, gradients everywhere, shapes, determinism."""

import io
import math

import pytest
import torch

from gdl.base import QUANTITIES, GenerativeModel
from gdl.taxonomy import DENSITIES, REGISTRY

from conftest import TINY_MODELS

NAMES = sorted(TINY_MODELS)


def test_every_registered_model_has_a_tiny_instance():
    assert set(REGISTRY) == set(TINY_MODELS)


@pytest.mark.parametrize("name", NAMES)
def test_is_a_generative_model_with_a_place_in_the_taxonomy(name):
    model, _ = TINY_MODELS[name]()
    assert isinstance(model, GenerativeModel)
    assert model.density in DENSITIES
    method = DENSITIES[model.density].method
    if method is not None:
        assert hasattr(model, method), f"{name} is registered as {model.density} but lacks {method}"


def _has_loss(model) -> bool:
    """GANs have no loss(x): they override train_step instead."""
    return hasattr(model, "loss")


def _batch(model, x):
    # Label-conditioned models train on (x, labels) tuples, as fit passes them.
    if getattr(model, "num_classes", None):
        return (x, torch.arange(len(x)) % model.num_classes)
    return x


@pytest.mark.parametrize("name", NAMES)
def test_loss_is_finite_and_every_parameter_gets_a_gradient(name):
    model, x = TINY_MODELS[name]()
    if not _has_loss(model):  # a few train steps must move every parameter, finitely
        before = {k: p.detach().clone() for k, p in model.named_parameters()}
        optimizer = model.configure_optimizers(1e-2)
        for _ in range(4):
            logs = model.train_step(_batch(model, x), optimizer)
            assert all(math.isfinite(v) for v in logs.values()), logs
        for pname, p in model.named_parameters():
            assert torch.isfinite(p).all(), f"{pname} became non-finite"
            assert not torch.equal(p, before[pname]), f"{pname} was not updated by train_step"
        return
    loss = model.loss(x)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{pname} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{pname} has a non-finite gradient"


@pytest.mark.parametrize("name", NAMES)
def test_sample_shape_and_detached(name):
    model, x = TINY_MODELS[name]()
    s = model.sample(7)
    assert s.shape == (7, *model.event_shape) == (7, *x.shape[1:])
    assert not s.requires_grad


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_samples(name):
    model, _ = TINY_MODELS[name]()
    torch.manual_seed(123)
    a = model.sample(5)
    torch.manual_seed(123)
    b = model.sample(5)
    torch.manual_seed(124)
    c = model.sample(5)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip(name):
    model, x = TINY_MODELS[name]()
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    other, _ = TINY_MODELS[name]()
    torch.manual_seed(99)  # a fresh model starts elsewhere...
    for p in other.parameters():
        torch.nn.init.normal_(p)
    other.load_state_dict(torch.load(buffer))  # ...and the loaded state brings it back
    if not _has_loss(model):
        model.eval(), other.eval()
        torch.manual_seed(0)
        la = model.sample(5)
        torch.manual_seed(0)
        lb = other.sample(5)
        assert torch.allclose(la, lb)
        return
    torch.manual_seed(0)
    la = model.loss(x)
    torch.manual_seed(0)
    lb = other.loss(x)
    assert torch.allclose(la, lb)


@pytest.mark.parametrize("name", NAMES)
def test_missing_quantities_raise_errors_that_name_the_alternative(name):
    model, _ = TINY_MODELS[name]()
    present = [q for q in QUANTITIES if hasattr(model, q)]
    for q in QUANTITIES:
        if q in present:
            continue
        with pytest.raises(AttributeError) as err:
            getattr(model, q)
        message = str(err.value)
        assert q in message
        assert all(p in message for p in present)


@pytest.mark.parametrize("name", NAMES)
def test_bad_sample_count_is_a_clear_error(name):
    model, _ = TINY_MODELS[name]()
    for n in (0, -1, 2.5):
        with pytest.raises(ValueError, match="n must be"):
            model.sample(n)
