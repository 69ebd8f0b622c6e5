"""gdl.nn: the one MLP, MADE's masked MLP, causal and masked convolutions, time embeddings."""

import pytest
import torch
from torch import nn

from gdl.nn import MLP, CausalConv1d, MaskedMLP, SinusoidalEmbedding, TimeMLP, TimeUNet

from helpers import dependencies, violations


def test_mlp_layers_activation_dropout_and_zero_last_layer():
    net = MLP(3, [8, 8], 2, activation=lambda: nn.LeakyReLU(0.2), dropout=0.5)
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Linear", "LeakyReLU", "Dropout", "Linear", "LeakyReLU", "Dropout", "Linear"]
    assert [type(m).__name__ for m in MLP(3, [8], 2)] == ["Linear", "ReLU", "Linear"]
    assert [type(m).__name__ for m in MLP(3, [], 2)] == ["Linear"]
    zero = MLP(3, [8], 2, zero_last=True)
    assert zero(torch.randn(4, 3)).abs().max() == 0
    assert zero[0].weight.abs().sum() > 0  # only the last layer starts at zero
    for kwargs, word in [({"dropout": 1.0}, "dropout"), ({"hidden": [0]}, "hidden"), ({"out_features": 0}, "out_features")]:
        with pytest.raises(ValueError, match=word):
            MLP(**({"in_features": 3, "hidden": [4], "out_features": 2} | kwargs))


def test_masked_mlp_output_d_sees_exactly_the_inputs_before_d_in_the_ordering():
    ordering = [2, 4, 0, 1, 3]
    net = MaskedMLP(torch.tensor(ordering), hidden=[32, 32], outputs_per_dim=3)
    x = torch.randn(16, 5, generator=torch.Generator().manual_seed(0))  # many inputs: no dead ReLU path
    seen = dependencies(net, x, lambda out, d: out[:, d])
    assert violations(seen, ordering) == []
    rank = {d: r for r, d in enumerate(ordering)}
    assert all(seen[d] == sorted(j for j in range(5) if rank[j] < rank[d]) for d in range(5))
    assert torch.equal(net.connectivity(), torch.tensor([[rank[j] < rank[d] for j in range(5)] for d in range(5)]))
    net.net[0].mask.fill_(1)  # a broken first mask: the check must notice
    assert violations(dependencies(net, x, lambda out, d: out[:, d]), ordering)


def test_masked_mlp_zero_last_and_bad_orderings():
    net = MaskedMLP(torch.arange(4), hidden=[8], outputs_per_dim=2, zero_last=True)
    assert net(torch.randn(3, 4)).abs().max() == 0 and net(torch.randn(3, 4)).shape == (3, 4, 2)
    with pytest.raises(ValueError, match="ordering must be a permutation"):
        MaskedMLP(torch.tensor([0, 0, 1]), hidden=[4])


def test_causal_conv_sees_only_the_past():
    conv = CausalConv1d(1, 1, kernel_size=3, exclude_current=True)
    seen = dependencies(lambda x: conv(x), torch.randn(2, 1, 8), lambda out, d: out[:, :, d])
    assert seen == {i: list(range(max(0, i - 3), i)) for i in range(8)}


def test_time_networks_start_at_zero_and_embed_time():
    emb = SinusoidalEmbedding(8)(torch.tensor([0.0, 1.0]))
    assert emb.shape == (2, 8) and torch.equal(emb[0], torch.tensor([0.0] * 4 + [1.0] * 4))
    x, t = torch.randn(3, 1, 4, 4), torch.tensor([0, 3, 7])
    assert TimeMLP((1, 4, 4), hidden=[8])(x, t).abs().max() == 0
    assert TimeUNet(1, 1, channels=8, groups=4)(x, t).abs().max() == 0
    with pytest.raises(ValueError, match="dim must be an even int"):
        SinusoidalEmbedding(3)
