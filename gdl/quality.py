r"""Sample quality: how close a set of samples is to held-out data, for models with or without a likelihood.

Implicit models (GANs) have no likelihood, and a likelihood says little about how samples look.
:func:`sample_quality` scores a set of samples against the held-out test split with features from
a small classifier that gdl trains itself on the training split (:func:`feature_network`; no
download, no Inception network): the Fréchet distance between Gaussians fitted to the two feature
clouds ("FD on gdl features"), :math:`k`-nearest-neighbour precision and recall, and how many
classes the samples cover. :func:`mode_coverage` does the same job on the 2-D eight-Gaussians
set, where the modes are known.

Example:
    >>> f = torch.randn(500, 3, generator=torch.Generator().manual_seed(0))
    >>> round(frechet_distance(f, f), 6)
    0.0
"""

from __future__ import annotations

import functools
import math

import torch
from torch.nn import functional as F

from . import _checks as checks
from . import data

__all__ = [
    "FeatureClassifier",
    "feature_network",
    "frechet_distance",
    "precision_recall",
    "sample_quality",
    "quality_line",
    "mode_coverage",
]

#: Training images of a data set larger than this train its feature network on the first ones.
MAX_TRAIN = 12_000
#: Test images the samples are compared with (the first ones of the split).
MAX_TEST = 2_000
#: Epochs and batch size of the feature network: small data sets get more passes.
_SCHEDULE = {"digits": (40, 50), "fashion-mnist": (4, 100)}


class FeatureClassifier(torch.nn.Module):
    r"""The small convolutional classifier whose penultimate layer gives gdl's image features.

    Two 3×3 convolutions (the second with stride 2) and a 64-unit ReLU layer, the *features*
    :math:`\phi(\mathbf{x})`, then a linear layer to the class logits. Inputs are images scaled to
    :math:`[0, 1]`.

    Arguments:
        size: height (= width) of the images, 8 or 28.
        num_classes: number of classes.
        width: channels of the first convolution (the second has twice as many).
        features: dimension of :math:`\phi(\mathbf{x})`.
    """

    def __init__(self, size: int, num_classes: int = 10, width: int = 32, features: int = 64):
        super().__init__()
        first_stride = 1 if size <= 8 else 2  # 8x8 digits keep their resolution; 28x28 halve it
        side = -(-size // first_stride)
        side = -(-side // 2)
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(1, width, 3, stride=first_stride, padding=1),
            torch.nn.ReLU(),
            torch.nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
            torch.nn.ReLU(),
            torch.nn.Flatten(),  # (B, 2 * width * side * side)
            torch.nn.Linear(2 * width * side * side, features),
            torch.nn.ReLU(),
        )
        self.head = torch.nn.Linear(features, num_classes)
        self.test_accuracy = float("nan")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`\\phi(\\mathbf{x})`, shape ``(B, features)``, for images ``(B, 1, H, W)`` in [0, 1]."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits, shape ``(B, num_classes)``."""
        return self.head(self.body(x))

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the labels ``y`` ``(B,)`` given images ``x`` in [0, 1]: what
        :func:`gdl.fit` minimises."""
        return F.cross_entropy(self(x), y)

    def configure_optimizers(self, lr: float) -> torch.optim.Optimizer:
        """AdamW with a little weight decay."""
        return torch.optim.AdamW(self.parameters(), lr=lr, weight_decay=1e-4)


class _Reference:
    """A trained feature network and the statistics of the test split's features."""

    def __init__(self, net: FeatureClassifier, levels: int, x_test, y_test, k: int):
        self.net, self.levels, self.k = net, levels, k
        self.features = _features(net, x_test.float() / (levels - 1))
        self.mean, self.cov = _gaussian(self.features)
        self.radii = _knn_radii(self.features, k)
        self.class_share = torch.bincount(y_test, minlength=net.head.out_features).double() / len(y_test)


@torch.no_grad()
def _features(net: torch.nn.Module, x: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
    net.eval()
    return torch.cat([net.features(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]).double()


def _gaussian(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean = f.mean(0)
    centred = f - mean
    return mean, centred.T @ centred / (len(f) - 1)


def _knn_radii(f: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row of ``f`` to its ``k``-th nearest other row."""
    d = torch.cdist(f, f)
    return d.kthvalue(k + 1, dim=1).values  # +1: the nearest "other" row at distance 0 is itself


def feature_network(
    dataset: str = "digits", seed: int = 0, *, num_levels: int | None = None, k: int = 5
) -> FeatureClassifier:
    r"""The :class:`FeatureClassifier` that :func:`sample_quality` uses for ``dataset``.

    Trained with :func:`gdl.fit` the first time it is asked for (a few seconds on one CPU core:
    digits on their 1000 training images, Fashion-MNIST on the first 12,000; Fashion-MNIST samples
    are then compared with the first 2000 test images), deterministically from ``seed``, kept for
    the rest of the process and in the cache of trained weights (see :func:`gdl.fit`). Training
    leaves torch's global random state untouched.
    The held-out accuracy is in its ``test_accuracy`` attribute.

    Arguments:
        dataset: a name of :data:`gdl.data.IMAGE_SETS` (``"digits"``, ``"fashion-mnist"``).
        seed: seed of the network's initialisation and batch order.
        num_levels: grey levels of the images it will score (default: as stored).
        k: neighbours for the precision/recall radii.
    """
    return _reference(dataset, num_levels, seed, k).net


@functools.cache
def _reference(dataset: str, num_levels: int | None, seed: int, k: int) -> _Reference:
    from .train import fit

    images = data.image_set(dataset)
    levels = num_levels or images.num_levels
    x_train, y_train = (t[:MAX_TRAIN] for t in images.load("train", levels))
    x_test, y_test = (t[:MAX_TEST] for t in images.load("test", levels))
    epochs, batch = _SCHEDULE[dataset]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = FeatureClassifier(images.shape[-1], images.num_classes)
        x = x_train.float() / (levels - 1)
        # cache=True: the processes of a parallel build train each feature network once
        fit(net, (x, y_train), steps=epochs * (len(x) // batch), batch_size=batch, lr=1e-3,
            seed=seed, device="cpu", progress=False, log_every=0, cache=True, distribute=False)
        with torch.no_grad():
            predicted = net(x_test.float() / (levels - 1)).argmax(1)
        net.test_accuracy = (predicted == y_test).float().mean().item()
    for p in net.parameters():
        p.requires_grad_(False)
    return _Reference(net, levels, x_test, y_test, k)


def frechet_distance(f: torch.Tensor, g: torch.Tensor) -> float:
    r"""Fréchet distance between Gaussians fitted to two sets of feature vectors.

    .. math::

        \mathrm{FD} = \lVert\boldsymbol\mu_f - \boldsymbol\mu_g\rVert^2
        + \operatorname{tr}\Big(\Sigma_f + \Sigma_g
        - 2\big(\Sigma_f^{1/2}\Sigma_g\Sigma_f^{1/2}\big)^{1/2}\Big).

    It is the squared 2-Wasserstein distance between the two Gaussians: zero for identical
    sets, positive otherwise, and (estimated from finite sets) biased upwards by roughly
    :math:`\operatorname{tr}\Sigma\,(1/n_f + 1/n_g)`.

    Arguments:
        f: features ``(n_f, d)``.
        g: features ``(n_g, d)``.

    Example:
        >>> f = torch.randn(2000, 3, generator=torch.Generator().manual_seed(0))
        >>> round(frechet_distance(f, f), 6), round(frechet_distance(f, f + 1.0), 2)
        (0.0, 3.0)
    """
    for name, t in (("f", f), ("g", g)):
        if not isinstance(t, torch.Tensor) or t.dim() != 2 or len(t) < 2:
            raise ValueError(f"{name} must be a (n, d) tensor with n >= 2")
    if f.shape[1] != g.shape[1]:
        raise ValueError(f"f and g must have the same feature dimension, got {f.shape[1]} and {g.shape[1]}")
    mu_f, cov_f = _gaussian(f.double())
    mu_g, cov_g = _gaussian(g.double())
    # tr (S_f^1/2 S_g S_f^1/2)^1/2 from the eigenvalues of a symmetric PSD matrix (stable).
    eigval, eigvec = torch.linalg.eigh(cov_f)
    root_f = eigvec @ torch.diag(eigval.clamp(min=0).sqrt()) @ eigvec.T
    middle = root_f @ cov_g @ root_f
    trace_root = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    fd = (mu_f - mu_g).square().sum() + cov_f.trace() + cov_g.trace() - 2 * trace_root
    return max(fd.item(), 0.0)


def precision_recall(
    real: torch.Tensor, fake: torch.Tensor, *, k: int = 5, real_radii: torch.Tensor | None = None
) -> tuple[float, float]:
    r"""Improved precision and recall of Kynkäänniemi et al. (2019) on feature vectors.

    Around each real point draw the ball reaching its :math:`k`-th nearest real neighbour; the
    union of the balls estimates the support of the data. **Precision** is the fraction of fake
    points inside it (are samples realistic?); **recall** swaps the roles (is every part of the
    data reproduced?).

    Arguments:
        real: features ``(n_r, d)``.
        fake: features ``(n_f, d)``.
        k: neighbours defining each ball.
        real_radii: the real balls' radii, if already computed.

    Returns:
        ``(precision, recall)``, each in [0, 1].

    References:
        Kynkäänniemi, Karras, Laine, Lehtinen, Aila, "Improved precision and recall metric for
        assessing generative models", NeurIPS 2019. https://arxiv.org/abs/1904.06991
    """
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if len(real) <= k or len(fake) <= k:
        raise ValueError(f"real and fake need more than k={k} points each")
    real, fake = real.double(), fake.double()
    if real_radii is None:
        real_radii = _knn_radii(real, k)
    fake_radii = _knn_radii(fake, k)
    d = torch.cdist(fake, real)  # (n_f, n_r)
    precision = (d <= real_radii[None, :]).any(1).double().mean().item()
    recall = (d <= fake_radii[:, None]).any(0).double().mean().item()
    return precision, recall


def _check_samples(samples, shape, levels: int, dataset: str) -> torch.Tensor:
    try:
        x = torch.as_tensor(samples).detach().cpu().float()
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"samples must be a tensor of images, got {type(samples).__name__}") from err
    if x.dim() != len(shape) + 1 or tuple(x.shape[1:]) != tuple(shape):
        raise ValueError(
            f"samples must have shape (n, {', '.join(map(str, shape))}) for {dataset!r}, "
            f"got {tuple(x.shape)}"
        )
    if len(x) < 10:
        raise ValueError(
            f"samples must hold at least 10 images (about 1000 for a stable score), got {len(x)}"
        )
    if not torch.isfinite(x).all():
        raise ValueError("samples must be finite, got NaN or infinite values")
    top = levels - 1
    low, high = x.min().item(), x.max().item()
    if low < -1 or high > top + 1:
        raise ValueError(
            f"samples must be on the data's own scale 0..{top} for {dataset!r} (one grey level of "
            f"slack), got values in [{low:.3g}, {high:.3g}]"
        )
    if top > 1 and high <= 1:
        raise ValueError(
            f"samples look scaled to [0, 1] (max {high:.3g}); pass them on the data's own scale "
            f"0..{top}, e.g. samples * {top}"
        )
    return x.clamp(0, top) / top


def sample_quality(
    samples, dataset: str = "digits", seed: int = 0, *, num_levels: int | None = None, k: int = 5
) -> dict:
    r"""Score a set of image samples against the held-out test split, with gdl's own features.

    The features :math:`\phi` are the penultimate layer of a small classifier trained on the
    training split (:func:`feature_network`), so no Inception network or download is needed;
    the numbers compare models scored with the same ``dataset`` and ``seed`` only.

    * ``"fd"``: Fréchet distance on gdl features between samples and test images
      (:func:`frechet_distance`; lower is better, about the finite-sample floor for real data);
    * ``"precision"``, ``"recall"``: :math:`k`-NN precision and recall (:func:`precision_recall`);
    * ``"classes_covered"``: how many classes get at least a fifth of their test-set share of
      the samples, by the classifier's predictions (out of ``"num_classes"``).

    Use about 1000 samples: the FD's upward bias shrinks like :math:`1/n`, so only scores from
    equal-sized sample sets compare exactly.

    Arguments:
        samples: ``(n, 1, H, W)`` images on the data's own scale (digits: 0..16, integers or
            floats; Fashion-MNIST with L levels: 0..L-1).
        dataset: a name of :data:`gdl.data.IMAGE_SETS`: ``"digits"`` or ``"fashion-mnist"``.
        seed: seed of the feature network (the leaderboard uses 0).
        num_levels: grey levels of the samples (default: the data set's own).
        k: neighbours for precision and recall.

    Returns:
        a dict with ``"fd"``, ``"precision"``, ``"recall"``, ``"classes_covered"``,
        ``"num_classes"``, ``"n"`` and ``"seed"``.

    Raises:
        ValueError: if ``samples`` have the wrong shape, are not finite or are off the data's scale.

    Example:
        >>> from gdl import data
        >>> x_val, _ = data.digits("val")
        >>> q = sample_quality(x_val)
        >>> sorted(q)
        ['classes_covered', 'fd', 'n', 'num_classes', 'precision', 'recall', 'seed']
        >>> q["fd"] > 0, q["precision"] > 0.8, q["classes_covered"]
        (True, True, 10)

    References:
        Heusel et al., "GANs trained by a two time-scale update rule converge to a local Nash
        equilibrium", NeurIPS 2017 (the Fréchet Inception Distance). https://arxiv.org/abs/1706.08500
    """
    images = data.image_set(dataset)
    levels = images.num_levels if num_levels is None else checks.num_levels(num_levels)
    seed = checks.int_at_least(seed, "seed", 0)
    x = _check_samples(samples, images.shape, levels, dataset)  # before the (slower) first training
    ref = _reference(dataset, num_levels if levels != images.num_levels else None, seed, k)
    f = _features(ref.net, x)
    precision, recall = precision_recall(ref.features, f, k=k, real_radii=ref.radii)
    with torch.no_grad():
        predicted = ref.net.head(f.float()).argmax(1)
    share = torch.bincount(predicted, minlength=len(ref.class_share)).double() / len(x)
    covered = int((share >= 0.2 * ref.class_share).sum())
    return {
        "fd": frechet_distance(ref.features, f),
        "precision": precision,
        "recall": recall,
        "classes_covered": covered,
        "num_classes": len(ref.class_share),
        "n": len(x),
        "seed": seed,
    }


def quality_line(q: dict) -> str:
    """One line that reports a :func:`sample_quality` result."""
    return (
        f"FD on gdl features {q['fd']:.2f}, precision {q['precision']:.2f}, recall {q['recall']:.2f}, "
        f"{q['classes_covered']}/{q['num_classes']} classes ({q['n']} samples)"
    )


def mode_coverage(samples: torch.Tensor, *, noise: float = 0.1, radius: float = 3.0) -> dict:
    r"""How well 2-D samples cover the eight Gaussians of :func:`gdl.data.toy_2d` ``("8gaussians")``.

    The modes sit at :math:`2(\cos\frac{2\pi j}{8}, \sin\frac{2\pi j}{8})`, :math:`j=0..7`, with
    standard deviation ``noise``. A sample is *high quality* if it lies within ``radius``
    standard deviations of its nearest mode; a mode is *covered* if it receives at least a fifth
    of its fair share (:math:`n/8`) of the samples. A collapsed GAN covers few modes; the
    histogram's KL divergence from uniform, :math:`\sum_j h_j \log(8 h_j)`, is 0 for a perfect
    balance and :math:`\log 8 \approx 2.08` when all samples sit on one mode.

    Arguments:
        samples: points ``(n, 2)``.
        noise: the data's standard deviation around each mode.
        radius: the high-quality radius, in standard deviations.

    Returns:
        a dict with ``"modes"`` (covered, out of 8), ``"high_quality"`` (fraction of samples)
        and ``"kl"`` (of the high-quality samples' mode histogram from uniform).

    Example:
        >>> from gdl import data
        >>> x, _ = data.toy_2d("8gaussians", 1000, seed=0)
        >>> q = mode_coverage(x)
        >>> q["modes"], q["high_quality"] > 0.99, q["kl"] < 0.01
        (8, True, True)
    """
    if not isinstance(samples, torch.Tensor) or samples.dim() != 2 or samples.shape[1] != 2:
        shape = tuple(samples.shape) if isinstance(samples, torch.Tensor) else type(samples).__name__
        raise ValueError(f"samples must be a tensor of shape (n, 2), got {shape}")
    if len(samples) < 8:
        raise ValueError(f"samples must hold at least 8 points, got {len(samples)}")
    if not noise > 0 or not radius > 0:
        raise ValueError(f"noise and radius must be > 0, got {noise} and {radius}")
    centres = torch.as_tensor(data.eight_gaussian_centres())  # (8, 2), float64
    d = torch.cdist(samples.detach().double(), centres)  # (n, 8)
    nearest, mode = d.min(1)
    good = nearest <= radius * noise
    counts = torch.bincount(mode[good], minlength=8).double()
    share = counts / max(good.sum().item(), 1)
    kl = (share[share > 0] * (8 * share[share > 0]).log()).sum().item()
    return {
        "modes": int((counts >= 0.2 * len(samples) / 8).sum()),
        "high_quality": good.double().mean().item(),
        "kl": kl if good.any() else math.log(8),
    }
