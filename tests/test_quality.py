"""gdl.quality: the Fréchet distance, precision/recall, gdl features, mode coverage."""

import math

import pytest
import torch

from gdl import data, quality


def _noisy(x, sigma, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (x.float() + sigma * torch.randn(x.shape, generator=g)).clamp(0, 16)


def test_frechet_distance_matches_its_closed_form():
    g = torch.Generator().manual_seed(0)
    f = torch.randn(500, 4, generator=g) @ torch.randn(4, 4, generator=g) + 1.0
    assert quality.frechet_distance(f, f) == pytest.approx(0.0, abs=1e-8)
    # A shift adds |c|^2 and nothing else.
    shift = torch.tensor([1.0, -2.0, 0.5, 0.0])
    assert quality.frechet_distance(f, f + shift) == pytest.approx(shift.square().sum().item(), rel=1e-6)
    # Doubling: mean gap |mu|^2, and tr(S + 4S - 2 * 2S) = tr S.
    mean, cov = f.double().mean(0), torch.cov(f.double().T)
    expected = mean.square().sum() + cov.trace()
    assert quality.frechet_distance(f, 2 * f) == pytest.approx(expected.item(), rel=1e-6)
    h = torch.randn(300, 4, generator=g)
    assert quality.frechet_distance(f, h) == pytest.approx(quality.frechet_distance(h, f), rel=1e-6)
    with pytest.raises(ValueError, match="same feature dimension"):
        quality.frechet_distance(f, h[:, :3])


def test_precision_recall_see_dropped_modes_and_off_support_samples():
    g = torch.Generator().manual_seed(0)
    real = torch.cat([torch.randn(300, 2, generator=g) * 0.1 + c for c in (-3.0, 3.0)])
    half = real[:300] + 0.01 * torch.randn(300, 2, generator=g)  # only the first cluster
    p, r = quality.precision_recall(real, half)
    assert p > 0.9 and r < 0.6
    far = real + 10.0
    p, r = quality.precision_recall(real, far)
    assert p == 0.0 and r == 0.0


def test_sample_quality_is_zero_for_the_test_split_itself_and_grows_with_noise():
    x_test, _ = data.digits("test")
    same = quality.sample_quality(x_test)
    assert same["fd"] == pytest.approx(0.0, abs=1e-6)
    assert same["precision"] == same["recall"] == 1.0 and same["classes_covered"] == 10
    x_train, _ = data.digits("train")
    fds = [quality.sample_quality(_noisy(x_train, s))["fd"] for s in (0.0, 2.0, 4.0, 8.0)]
    assert fds == sorted(fds) and fds[-1] > 3 * fds[0]


def test_sample_quality_separates_real_digits_from_independent_pixels():
    x_train, _ = data.digits("train")
    g = torch.Generator().manual_seed(0)
    flat = x_train.view(len(x_train), -1)
    idx = torch.randint(0, len(flat), flat.shape, generator=g)
    marginals = flat.gather(0, idx).view_as(x_train)  # each pixel from its own marginal
    real = quality.sample_quality(x_train)
    fake = quality.sample_quality(marginals)
    assert fake["fd"] > 5 * real["fd"]
    assert fake["precision"] < real["precision"] and fake["recall"] < real["recall"]


def test_classes_covered_counts_a_collapsed_sampler():
    x_train, y_train = data.digits("train")
    zeros = x_train[y_train == 0]
    q = quality.sample_quality(zeros)
    assert q["classes_covered"] == 1 and q["recall"] < 0.4


def test_sample_quality_is_deterministic_and_leaves_the_global_rng_alone():
    x_val, _ = data.digits("val")
    torch.manual_seed(5)
    a = quality.sample_quality(x_val, seed=3)  # trains (and caches) a new feature network
    after = torch.rand(3)
    torch.manual_seed(5)
    assert torch.equal(torch.rand(3), after)
    quality._reference.cache_clear()
    b = quality.sample_quality(x_val, seed=3)
    assert a == b
    assert quality.feature_network("digits", seed=3).test_accuracy > 0.85


def test_sample_quality_validates_its_input():
    x_val, _ = data.digits("val")
    with pytest.raises(ValueError, match=r"samples must have shape \(n, 1, 8, 8\)"):
        quality.sample_quality(x_val.view(-1, 64))
    with pytest.raises(ValueError, match=r"scaled to \[0, 1\]"):
        quality.sample_quality(x_val / 16.0)
    with pytest.raises(ValueError, match="data's own scale 0..16"):
        quality.sample_quality(x_val * 2.0)
    with pytest.raises(ValueError, match="at least 10"):
        quality.sample_quality(x_val[:5])
    bad = x_val.float().clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="finite"):
        quality.sample_quality(bad)
    with pytest.raises(ValueError, match=r"shape \(n, 1, 28, 28\) for 'fashion-mnist'"):
        quality.sample_quality(x_val, dataset="fashion-mnist", num_levels=4)
    with pytest.raises(ValueError, match="dataset must be"):
        quality.sample_quality(x_val, dataset="cifar")
    with pytest.raises(ValueError, match="samples must be a tensor"):
        quality.sample_quality("pictures")


def test_mode_coverage_on_eight_gaussians():
    x, y = data.toy_2d("8gaussians", 2000, seed=1)
    full = quality.mode_coverage(x)
    assert full["modes"] == 8 and full["high_quality"] > 0.98 and full["kl"] < 0.02
    three = quality.mode_coverage(x[y < 3])
    assert three["modes"] == 3 and three["kl"] == pytest.approx(math.log(8 / 3), abs=0.05)
    g = torch.Generator().manual_seed(0)
    blob = quality.mode_coverage(torch.randn(2000, 2, generator=g) * 0.3)  # one blob at the centre
    assert blob["modes"] == 0 and blob["high_quality"] < 0.01
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        quality.mode_coverage(x[:, :1])
