"""Shared fixtures: tiny instances of every model, for the contract tests."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

import gdl  # noqa: E402
from gdl.autoregressive import CausalConvARM  # noqa: E402

torch.set_num_threads(1)


def tiny_causal_conv_arm():
    model = CausalConvARM(event_shape=(1, 3, 3), num_levels=4, hidden=8, kernel_size=3, num_layers=3)
    data = torch.randint(0, 4, (16, 1, 3, 3), generator=torch.Generator().manual_seed(0))
    return model, data


#: Model class name -> factory of (tiny model, a batch of its data). Every registered model
#: must appear here (test_contract checks that), so no model escapes the contract tests.
TINY_MODELS = {
    "CausalConvARM": tiny_causal_conv_arm,
}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


def pytest_configure(config):
    gdl.import_all()
