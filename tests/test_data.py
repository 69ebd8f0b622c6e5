"""Offline data: the digits split, Fashion-MNIST's idx files, the 2-D toy sets."""

import gzip

import numpy as np
import pytest
import torch

from gdl import data


def test_digits_standard_split():
    sizes = {s: data.digits(s)[0].shape for s in ("train", "val", "test")}
    assert sizes == {
        "train": (1000, 1, 8, 8),
        "val": (350, 1, 8, 8),
        "test": (447, 1, 8, 8),
    }
    x, y = data.digits("test")
    assert x.dtype == torch.int64 and x.min() == 0 and x.max() == 16
    assert y.shape == (447,) and set(y.tolist()) == set(range(10))


def test_digits_splits_are_disjoint_and_in_file_order():
    from sklearn.datasets import load_digits

    raw = torch.as_tensor(load_digits().data, dtype=torch.int64)
    joined = torch.cat([data.digits(s)[0].view(-1, 64) for s in ("train", "val", "test")])
    assert torch.equal(joined, raw)


def test_bad_split_names_the_argument():
    with pytest.raises(ValueError, match="split must be one of"):
        data.digits("validation")


def _write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_fashion_reader_on_a_small_idx_file(tmp_path):
    images = np.arange(3 * 28 * 28).reshape(3, 28, 28) % 256
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([4, 0, 9]))
    x, y = data.fashion_mnist("test", root=tmp_path)
    assert x.shape == (3, 1, 28, 28) and torch.equal(x[:, 0], torch.as_tensor(images))
    assert y.tolist() == [4, 0, 9]
    x4, _ = data.fashion_mnist("test", levels=4, root=tmp_path)
    assert torch.equal(x4, x // 64)


def test_missing_fashion_files_name_the_debian_package(tmp_path):
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        data.fashion_mnist("train", root=tmp_path)


def test_bad_levels_name_the_argument(tmp_path):
    with pytest.raises(ValueError, match="levels must be"):
        data.fashion_mnist("test", levels=1, root=tmp_path)


@pytest.mark.skipif(not data.FASHION_DIR.exists(), reason="dataset-fashion-mnist not installed")
def test_installed_fashion_mnist():
    x, y = data.fashion_mnist("test")
    assert x.shape == (10_000, 1, 28, 28) and y.shape == (10_000,)
    assert x.max() == 255 and torch.bincount(y).tolist() == [1000] * 10


@pytest.mark.parametrize("name", sorted(data.TOY_SETS))
def test_toy_sets_are_seeded_and_shaped(name):
    a, ya = data.toy_2d(name, 500, seed=1)
    b, yb = data.toy_2d(name, 500, seed=1)
    c, _ = data.toy_2d(name, 500, seed=2)
    assert a.shape == (500, 2) and a.dtype == torch.float32 and len(ya) == 500
    assert torch.equal(a, b) and torch.equal(ya, yb) and not torch.equal(a, c)
    assert a.abs().max() < 6


def test_eight_gaussians_labels_are_the_nearest_mode():
    x, y = data.toy_2d("8gaussians", 1000, seed=0)
    angles = 2 * torch.pi * torch.arange(8) / 8
    centres = 2 * torch.stack([angles.cos(), angles.sin()], 1)
    assert torch.equal(torch.cdist(x, centres).argmin(1), y)


def test_checkerboard_points_lie_on_dark_squares():
    x, _ = data.toy_2d("checkerboard", 2000, seed=0)
    col, row = torch.floor(x[:, 0] + 2), torch.floor(x[:, 1] + 2)
    assert ((col + row) % 2 == 0).all() or ((col + row) % 2 == 1).all()


def test_toy_errors_name_the_argument():
    with pytest.raises(ValueError, match="name must be one of"):
        data.toy_2d("spiral")
    with pytest.raises(ValueError, match="n must be"):
        data.toy_2d("moons", 0)
    with pytest.raises(ValueError, match="noise must be"):
        data.toy_2d("moons", noise=-1.0)


# ---------------------------------------------------------------------------- text


def test_vocabulary_round_trip_and_boundary_token():
    vocab = data.Vocabulary("xyz")
    x = vocab.encode(["", "zy", "xyzx"], length=4)
    assert x.tolist() == [[0, 0, 0, 0], [3, 2, 0, 0], [1, 2, 3, 1]]
    assert vocab.decode(x) == ["", "zy", "xyzx"]
    assert vocab.bos == vocab.eos == vocab.pad == 0 and vocab.size == 4


@pytest.mark.parametrize(
    "call, word",
    [
        (lambda v: v.encode(["toolong"], length=3), "length=3"),
        (lambda v: v.encode(["xq"], length=3), "outside the vocabulary"),
        (lambda v: v.encode(["x"], length=0), "length must"),
        (lambda v: data.Vocabulary("xx"), "chars must"),
        (lambda v: data.Vocabulary("x."), "chars must"),
    ],
)
def test_vocabulary_bad_inputs_are_clear_errors(call, word):
    with pytest.raises(ValueError, match=word):
        call(data.Vocabulary("xyz"))


def test_names_split_is_deterministic_disjoint_and_padded():
    splits = {s: data.names(s) for s in ("train", "val", "test")}
    x, y = splits["train"]
    assert x.dtype == y.dtype == torch.int64 and x.shape[1] == 12
    assert torch.equal(x, data.names("train")[0])  # the same split every call
    decoded = {s: set(data.NAMES_VOCAB.decode(splits[s][0])) for s in splits}
    assert not (decoded["train"] & decoded["val"]) and not (decoded["train"] & decoded["test"])
    assert sum(len(d) for d in decoded.values()) == sum(len(v[0]) for v in splits.values())
    # y counts the letters; after them come only boundary tokens (end, then padding).
    positions = torch.arange(x.shape[1])
    assert ((x > 0) == (positions < y[:, None])).all()
    assert 0.75 < len(x) / sum(len(v[0]) for v in splits.values()) < 0.85


def test_names_length_and_kind():
    x, y = data.names("val", kind="last", length=6)
    assert x.shape[1] == 6 and (y <= 6).all()
    with pytest.raises(ValueError, match="kind must"):
        data.names("train", kind="middle")
    with pytest.raises(ValueError, match="split must"):
        data.names("validation")


def test_missing_names_package_names_the_package(monkeypatch):
    monkeypatch.setattr(data.text.importlib.util, "find_spec", lambda name: None)
    data.text._name_list.cache_clear()
    try:
        with pytest.raises(ModuleNotFoundError, match="pip install names"):
            data.names("train")
    finally:
        data.text._name_list.cache_clear()


def test_image_sets_describe_their_data():
    digits = data.image_set("digits")
    assert digits.shape == (1, 8, 8) and digits.num_levels == data.DIGITS_LEVELS
    x, y = digits.load("test")
    assert tuple(x.shape[1:]) == digits.shape and len(x) == len(y) == 447
    assert digits.label() == "digits" and data.image_set("fashion-mnist").label(4) == "fashion-mnist (4 levels)"
    with pytest.raises(ValueError, match="dataset must be one of"):
        data.image_set("cifar")
    with pytest.raises(ValueError, match="the digits have 17 levels"):
        digits.load("test", num_levels=4)


def test_eight_gaussian_centres_are_the_modes_of_the_data():
    centres = torch.as_tensor(data.eight_gaussian_centres())
    x, y = data.toy_2d("8gaussians", 4000, seed=0)
    means = torch.stack([x[y == k].mean(0) for k in range(8)]).double()
    assert torch.allclose(means, centres, atol=0.02)
