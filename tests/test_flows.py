"""Normalizing flows: every log-determinant against autograd, inverses, triangular Jacobians,
normalisation on a grid, ActNorm's initialisation, and the dequantization bound."""

import math

import pytest
import torch
from torch.autograd.functional import jacobian

from gdl.flows import (
    MAF,
    ActNorm,
    AffineCoupling,
    Dequantize,
    Flatten,
    FlowSequence,
    Glow,
    InvertibleConv1x1,
    MaskedAffineAutoregressive,
    RealNVP,
    Reverse,
    Split,
    Squeeze,
    channel_mask,
    checkerboard_mask,
)
from gdl.metrics import dequantized_nll


def _perturb(module, scale=0.3, seed=0):
    """Move every parameter off its (often identity-making) initial value."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return module


def _jacobian(flow, x):
    """The (D, D) Jacobian of ``flow.forward`` at one example ``x`` (shape ``(1, *shape)``)."""
    shape = x.shape[1:]
    return jacobian(lambda v: flow(v.view(1, *shape))[0].reshape(-1), x.reshape(-1))


def _layers():
    """Name -> (layer, input shape), in float64, with parameters moved off the identity."""
    img = (2, 4, 4)
    return {
        "coupling-vector": (AffineCoupling(checkerboard_mask((5,)), hidden=8), (5,)),
        "coupling-checkerboard-conv": (
            AffineCoupling(checkerboard_mask(img, 1), hidden=4, conv=True), img),
        "coupling-channel-conv": (AffineCoupling(channel_mask(img), hidden=4, conv=True), img),
        "coupling-checkerboard-mlp": (AffineCoupling(checkerboard_mask(img), hidden=8), img),
        "actnorm-image": (ActNorm(2), img),
        "actnorm-vector": (ActNorm(5), (5,)),
        "conv1x1-image": (InvertibleConv1x1(2), img),
        "conv1x1-vector": (InvertibleConv1x1(5, seed=3), (5,)),
        "squeeze": (Squeeze(), img),
        "split": (Split(img, FlowSequence([ActNorm(1), InvertibleConv1x1(1)])), img),
        "flatten": (Flatten(img), img),
        "reverse": (Reverse(), (5,)),
        "maf-layer": (MaskedAffineAutoregressive(5, hidden=[16], ordering=[3, 0, 4, 1, 2]), (5,)),
        "dequantize": (Dequantize(num_levels=17), (5,)),
    }


def _input(name, shape, n=6):
    g = torch.Generator().manual_seed(1)
    if name == "dequantize":
        return 17 * torch.rand(n, *shape, generator=g, dtype=torch.float64)
    return torch.randn(n, *shape, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("name", sorted(_layers()))
def test_layer_log_det_is_slogdet_of_the_autograd_jacobian(name):
    layer, shape = _layers()[name]
    layer = layer.double()
    x = _input(name, shape)
    layer(x)  # ActNorm's data-dependent initialisation happens here
    _perturb(layer)
    z, log_det = layer(x)
    for b in range(len(x)):
        sign, logabs = torch.linalg.slogdet(_jacobian(layer, x[b : b + 1]))
        assert sign != 0
        assert torch.allclose(log_det[b], logabs, atol=1e-8), (name, log_det[b], logabs)


@pytest.mark.parametrize("name", sorted(_layers()))
def test_layer_inverse_undoes_forward(name):
    layer, shape = _layers()[name]
    layer = _perturb(layer.double())
    x = _input(name, shape)
    z, _ = layer(x)
    assert torch.allclose(layer.inverse(z), x, atol=1e-9)


def _models():
    return {
        "realnvp-2d": (RealNVP(event_shape=(2,), num_couplings=4, hidden=8), (2,)),
        "realnvp-image-mlp": (
            RealNVP(event_shape=(1, 4, 4), num_couplings=3, hidden=8, num_levels=5), (1, 4, 4)),
        "realnvp-image-conv": (
            RealNVP(event_shape=(2, 4, 4), num_couplings=3, hidden=4, conv=True, mask="channel"),
            (2, 4, 4)),
        "glow": (Glow(event_shape=(1, 4, 4), levels=2, steps=2, hidden=4, num_levels=5), (1, 4, 4)),
        "maf": (MAF(event_shape=(4,), num_layers=3, hidden=[12]), (4,)),
    }


def _model_input(model, shape, n=5):
    g = torch.Generator().manual_seed(2)
    if model.num_levels:
        return model.num_levels * torch.rand(n, *shape, generator=g, dtype=torch.float64)
    return torch.randn(n, *shape, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("name", sorted(_models()))
def test_model_log_det_is_slogdet_and_inverse_undoes_forward(name):
    model, shape = _models()[name]
    model = model.double()
    x = _model_input(model, shape)
    model(x)  # initialise ActNorms
    _perturb(model, scale=0.2)
    z, log_det = model(x)
    assert z.shape == (len(x), math.prod(shape))
    for b in range(len(x)):
        _, logabs = torch.linalg.slogdet(_jacobian(model, x[b : b + 1]))
        assert torch.allclose(log_det[b], logabs, atol=1e-7), (name, log_det[b], logabs)
    assert torch.allclose(model.inverse(z), x, atol=1e-8)
    # log_prob is the base log-density plus the log-determinant
    base = -0.5 * (z**2).sum(1) - 0.5 * z.shape[1] * math.log(2 * math.pi)
    assert torch.allclose(model.log_prob(x), base + log_det)


def test_coupling_jacobian_is_triangular_with_identity_on_the_masked_half():
    mask = checkerboard_mask((6,))
    layer = _perturb(AffineCoupling(mask, hidden=8).double())
    x = torch.randn(1, 6, dtype=torch.float64)
    J = _jacobian(layer, x)
    kept, free = mask.bool(), ~mask.bool()
    assert torch.allclose(J[kept][:, kept], torch.eye(3, dtype=J.dtype))
    assert torch.all(J[kept][:, free] == 0)  # masked outputs ignore the free inputs
    block = J[free][:, free]
    assert torch.all(block - torch.diag(torch.diagonal(block)) == 0)  # diagonal block
    assert J[free][:, kept].abs().sum() > 0  # ...and the conditioner is really used


def test_autoregressive_jacobian_is_triangular_in_the_ordering():
    ordering = torch.tensor([2, 0, 3, 1])
    layer = _perturb(MaskedAffineAutoregressive(4, hidden=[16], ordering=ordering).double())
    J = _jacobian(layer, torch.randn(1, 4, dtype=torch.float64))
    J_ordered = J[ordering][:, ordering]  # rows and columns in generation order
    assert torch.all(torch.triu(J_ordered, 1) == 0)
    assert torch.tril(J_ordered, -1).abs().sum() > 0


@pytest.mark.parametrize("model", [
    RealNVP(event_shape=(2,), num_couplings=4, hidden=16),
    MAF(event_shape=(2,), num_layers=3, hidden=[16]),
])
def test_2d_density_integrates_to_one_on_a_grid(model):
    model = model.double()
    model(torch.randn(256, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    _perturb(model, scale=0.1)
    xs = torch.linspace(-8, 8, 401, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(xs, xs, indexing="xy"), dim=-1).reshape(-1, 2)
    with torch.no_grad():
        mass = model.log_prob(grid).exp().sum() * (xs[1] - xs[0]) ** 2
    assert abs(mass.item() - 1) < 0.01


def test_dequantized_density_counts_every_scaling_and_bounds_the_discrete_nll():
    L = 3
    torch.manual_seed(0)
    model = RealNVP(event_shape=(2,), num_couplings=4, hidden=16, num_levels=L).double()
    model(L * torch.rand(256, 2, dtype=torch.float64))
    _perturb(model, scale=0.2)
    # the density of y = x + u integrates to one over its whole support, which the logit's
    # squeeze stretches a little beyond [0, L): the 1/L and logit terms are all counted
    lo, hi = Dequantize(L).inverse(torch.tensor([-30.0, 30.0], dtype=torch.float64))
    n = 600
    ys = lo + (hi - lo) * (torch.arange(n, dtype=torch.float64) + 0.5) / n  # midpoints
    grid = torch.stack(torch.meshgrid(ys, ys, indexing="xy"), dim=-1).reshape(-1, 2)
    with torch.no_grad():
        dens = model.log_prob(grid).exp()
    assert abs((dens.sum() * ((hi - lo) / n) ** 2).item() - 1) < 0.01
    # P(x) is the mass of the unit cell x + [0, 1)^2; the bound is never below -log P(x)
    cells = torch.cartesian_prod(torch.arange(L), torch.arange(L))
    m = 40
    u = (torch.arange(m, dtype=torch.float64) + 0.5) / m
    offsets = torch.cartesian_prod(u, u)
    total = 0.0
    for x in cells:
        with torch.no_grad():
            p_cell = model.log_prob(x.double() + offsets).exp().mean()
        bound = dequantized_nll(model, x.expand(2000, 2), draws=2)  # 4000 draws of u for x
        assert bound >= -math.log(p_cell) - 1e-3
        total += p_cell.item()
    assert 0.9 < total <= 1 + 1e-3


def test_actnorm_initialises_to_zero_mean_and_unit_variance_per_channel():
    x = torch.randn(64, 3, 5, 5) * torch.tensor([0.5, 2.0, 10.0]).view(1, 3, 1, 1)
    x = x + torch.tensor([-3.0, 0.0, 7.0]).view(1, 3, 1, 1)
    norm = ActNorm(3)
    assert not norm.initialized
    z, _ = norm(x)
    assert norm.initialized
    per_channel = z.transpose(0, 1).reshape(3, -1)
    assert torch.allclose(per_channel.mean(1), torch.zeros(3), atol=1e-5)
    assert torch.allclose(per_channel.std(1), torch.ones(3), atol=1e-4)
    z2, _ = norm(x + 1)  # initialised once only: later batches are not re-normalised
    assert not torch.allclose(z2.transpose(0, 1).reshape(3, -1).mean(1), torch.zeros(3), atol=1e-2)


def test_temperature_scales_the_latent_of_samples():
    model = RealNVP(event_shape=(2,), num_couplings=4, hidden=16)
    model(torch.randn(256, 2))  # initialise ActNorm on data first, as training would
    _perturb(model, scale=0.1)
    torch.manual_seed(0)
    for t in (0.5, 1.0):
        z, _ = model(model.sample(4000, temperature=t))
        assert abs(z.std().item() - t) < 0.05 * t


def test_integer_models_sample_integer_levels_and_loss_dequantizes():
    model = Glow(event_shape=(1, 4, 4), levels=2, steps=1, hidden=4, num_levels=5)
    s = model.sample(10)
    assert s.dtype == torch.int64 and s.min() >= 0 and s.max() <= 4
    x = torch.randint(0, 5, (8, 1, 4, 4))
    assert torch.isfinite(model.loss(x))
    with pytest.raises(ValueError, match="continuous"):
        model.log_prob(x)


def test_glow_factors_out_half_the_channels_at_each_scale():
    model = Glow(event_shape=(1, 8, 8), levels=2, steps=1, hidden=4)
    x = torch.randn(3, 1, 8, 8)
    z, _ = model(x)
    assert z.shape == (3, 64)
    # the first 32 latents (factored out at 4x4x4) ignore the second level entirely
    _perturb(model.flow.layers[0].layers[-1].inner)  # the deeper level only
    z2, _ = model(x)
    assert torch.equal(z[:, :32], z2[:, :32]) and not torch.equal(z[:, 32:], z2[:, 32:])


@pytest.mark.parametrize("make, match", [
    (lambda: RealNVP(num_couplings=1), "num_couplings"),
    (lambda: RealNVP(mask="stripes"), "mask"),
    (lambda: RealNVP(event_shape=(2,), conv=True), "conv"),
    (lambda: Glow(event_shape=(1, 6, 6), levels=2), "event_shape"),
    (lambda: MAF(event_shape=(1, 4, 4)), "event_shape"),
    (lambda: RealNVP(num_levels=1), "num_levels"),
    (lambda: AffineCoupling(torch.ones(4)), "mask"),
    (lambda: AffineCoupling(checkerboard_mask((4,)), dropout=1.5), "dropout"),
    (lambda: ActNorm(0), "num_features"),
    (lambda: Dequantize(17, alpha=0.7), "alpha"),
    (lambda: RealNVP().sample(3, temperature=0.0), "temperature"),
])
def test_invalid_arguments_raise_value_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_variational_dequantization_is_a_normalised_density_on_the_unit_box():
    from gdl.flows import VariationalDequantization

    q = _perturb(VariationalDequantization((2,), num_levels=4, hidden=8).double(), scale=0.1)
    x = torch.tensor([[1, 3]])
    n = 800
    us = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    grid = torch.cartesian_prod(us, us)
    with torch.no_grad():
        mass = q.log_q(grid, x.expand(len(grid), 2)).exp().mean()  # the box has volume 1
        u, log_q = q.noise(x.expand(5, 2))
    assert abs(mass.item() - 1) < 0.01
    assert ((u > 0) & (u < 1)).all()
    assert torch.allclose(log_q, q.log_q(u, x.expand(5, 2)))  # noise reports its density


def test_variational_dequantization_bound_is_above_the_discrete_nll_and_trains():
    L = 3
    torch.manual_seed(0)
    model = RealNVP(event_shape=(2,), num_couplings=2, hidden=8, num_levels=L,
                    dequantization="variational").double()
    x = torch.randint(0, L, (256, 2))
    loss = model.loss(x)
    loss.backward()
    assert all(p.grad is not None for p in model.dequantizer.parameters())
    _perturb(model, scale=0.2)
    m = 40
    u = (torch.arange(m, dtype=torch.float64) + 0.5) / m
    offsets = torch.cartesian_prod(u, u)
    for cell in torch.cartesian_prod(torch.arange(L), torch.arange(L)):
        with torch.no_grad():
            p_cell = model.log_prob(cell.double() + offsets).exp().mean()
        bound = dequantized_nll(model, cell.expand(2000, 2), draws=2)
        assert bound >= -math.log(p_cell) - 1e-3


def test_invalid_dequantization_is_a_clear_error():
    with pytest.raises(ValueError, match="dequantization"):
        RealNVP(num_levels=4, dequantization="gaussian")


# ---------------------------------------------------------------------- bad input
LEVEL_FLOWS = {
    "RealNVP": lambda: RealNVP(event_shape=(2,), num_couplings=2, hidden=8, num_levels=3),
    "MAF": lambda: MAF(event_shape=(2,), num_layers=2, hidden=[8], num_levels=3),
    "Glow": lambda: Glow(event_shape=(1, 4, 4), levels=2, steps=1, hidden=4, num_levels=3),
}


def _levels_batch(model, value=None):
    x = torch.randint(0, 3, (4, *model.event_shape), generator=torch.Generator().manual_seed(0))
    if value is not None:
        x.view(-1)[0] = value
    return x


@pytest.mark.parametrize("name", sorted(LEVEL_FLOWS))
def test_a_rejected_first_batch_leaves_the_flow_usable(name):
    model = LEVEL_FLOWS[name]()
    with pytest.raises(ValueError, match=r"x must hold integers in 0..2, got values in 0..5"):
        model.dequantized_log_prob(_levels_batch(model, 5))
    # ActNorm's data-dependent initialisation did not run on the rejected batch...
    assert not any(m.initialized for m in model.modules() if isinstance(m, ActNorm))
    # ...so the next, valid batch initialises it and gets a finite density.
    assert torch.isfinite(model.dequantized_log_prob(_levels_batch(model))).all()


@pytest.mark.parametrize("name", sorted(LEVEL_FLOWS))
def test_flows_check_the_level_range_themselves_even_without_torch_validation(name):
    model = LEVEL_FLOWS[name]()
    before = torch.distributions.Distribution._validate_args
    torch.distributions.Distribution.set_default_validate_args(False)
    try:
        with pytest.raises(ValueError, match="integers in 0..2"):
            model.dequantized_log_prob(_levels_batch(model, -1))
        with pytest.raises(ValueError, match=r"x must lie in \("):
            model.log_prob(_levels_batch(model).double().float() + 10.0)  # far outside [0, 3]
    finally:
        torch.distributions.Distribution.set_default_validate_args(before)


@pytest.mark.parametrize("name", sorted(LEVEL_FLOWS))
def test_flow_loss_and_the_bound_given_a_list_are_type_errors(name):
    model = LEVEL_FLOWS[name]()
    data = _levels_batch(model).tolist()
    with pytest.raises(TypeError, match="x must be a torch.Tensor, got list"):
        model.loss(data)
    with pytest.raises(TypeError, match="x must be a torch.Tensor, got list"):
        dequantized_nll(model, data)
