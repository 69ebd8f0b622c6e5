"""gdl.metrics: likelihood units, the exact NLL, and the kind of NLL each model can report."""

import math

import pytest
import torch

from gdl import metrics
from gdl.autoregressive import CausalConvARM
from gdl.base import GenerativeModel


def arm_and_data():
    x = torch.randint(0, 3, (96, 1, 2, 2), generator=torch.Generator().manual_seed(1))
    return CausalConvARM(event_shape=(1, 2, 2), num_levels=3, hidden=8, num_layers=2), x


def test_bits_per_dim():
    assert metrics.bits_per_dim(64 * math.log(2), 64) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="dims"):
        metrics.bits_per_dim(1.0, 0)


def test_nll_of_a_uniform_categorical_is_d_log_k():
    model, x = arm_and_data()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()  # all logits zero: every pixel uniform over 3 levels
    assert metrics.nll(model, x) == pytest.approx(4 * math.log(3), rel=1e-6)


def test_nll_refuses_models_without_exact_likelihood():
    class NoDensity(GenerativeModel):
        event_shape = (1,)

    with pytest.raises(AttributeError, match="log_prob"):
        metrics.nll(NoDensity(), torch.zeros(2, 1))
