"""gdl.base: the contract's defaults and its errors."""

import pytest
import torch



def test_default_loss_is_the_negative_elbo(bound_model):
    x = torch.ones(3, 2)
    assert torch.allclose(bound_model.loss(x), -bound_model.elbo(x).mean())


def test_asking_for_log_prob_names_what_the_model_has(bound_model):
    assert not hasattr(bound_model, "log_prob")
    with pytest.raises(AttributeError, match=r"has no log_prob.*it provides elbo\(x\)"):
        bound_model.log_prob(torch.zeros(1, 2))


def test_ordinary_missing_attributes_still_raise(bound_model):
    with pytest.raises(AttributeError, match="no_such_thing"):
        bound_model.no_such_thing


def test_event_shape_is_checked(bound_model):
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 2\)"):
        bound_model._check_event(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="x must hold at least one example"):
        bound_model._check_event(torch.zeros(0, 2))
    with pytest.raises(ValueError, match="x must be finite"):
        bound_model._check_event(torch.tensor([[0.0, float("nan")]]))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        bound_model._check_event([[0.0, 1.0]])


def test_a_batch_comes_in_the_models_dtype_and_on_its_device(bound_model):
    bound_model.to(torch.float64)
    assert bound_model._check_event(torch.zeros(3, 2)).dtype == torch.float64
    assert bound_model._check_event(torch.zeros(3, 2, dtype=torch.int64)).dtype == torch.int64
    bound_model.to("meta")  # stands in for a GPU: data on the CPU must follow the model
    x = bound_model._check_event(torch.zeros(3, 2))
    assert (x.device.type, x.dtype) == ("meta", torch.float64)
