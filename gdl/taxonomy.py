r"""What each model is: its family and the kind of density it gives.

Two taxonomies organise the field, and every model in :mod:`gdl` is placed in both:

* by **density** (Foster, chapter 1): *explicit and tractable* (the exact :math:`\log p(x)`),
  *explicit and approximate* (a bound on it, or a density known only up to its normaliser),
  and *implicit* (no density at all, only a sampler);
* by **family** (Tomczak): autoregressive, flow-based, latent-variable, energy-based and
  score-based models, to which the book adds generative adversarial networks.

Models declare their place with the :func:`register` decorator; the docs build reads
:data:`FAMILIES` and :data:`REGISTRY` to write the taxonomy table, so the site and the code
cannot drift apart.

Example:
    >>> from gdl.taxonomy import FAMILIES, DENSITIES
    >>> FAMILIES["autoregressive"].density
    'exact'
    >>> DENSITIES["exact"].method
    'log_prob'
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Density", "Family", "DENSITIES", "FAMILIES", "REGISTRY", "register", "models_of"]


@dataclass(frozen=True)
class Density:
    """A kind of density a model gives, and the method that evaluates it.

    Arguments:
        key: short name (``"exact"``, ``"bound"``, ``"unnormalised"``, ``"implicit"``).
        label: how the docs name it.
        branch: the branch of the explicit/implicit taxonomy it belongs to.
        method: the contract method that evaluates it (``None`` for implicit models).
        meaning: one sentence on what the number means.
    """

    key: str
    label: str
    branch: str
    method: str | None
    meaning: str


#: The kinds of density, by key, in the order the site presents them.
DENSITIES: dict[str, Density] = {
    d.key: d
    for d in [
        Density(
            "exact",
            "exact likelihood",
            "explicit, tractable",
            "log_prob",
            "log_prob(x) is log p(x) itself, in nats.",
        ),
        Density(
            "bound",
            "lower bound",
            "explicit, approximate",
            "elbo",
            "elbo(x) is a lower bound on log p(x); the gap is a KL divergence.",
        ),
        Density(
            "unnormalised",
            "unnormalised density",
            "explicit, approximate",
            "energy",
            "energy(x) gives p(x) up to the unknown normaliser: p(x) = exp(-E(x)) / Z.",
        ),
        Density(
            "score",
            "score only",
            "explicit, approximate",
            "score",
            "score(x, t) estimates the gradient of log p_t(x); no density value.",
        ),
        Density(
            "implicit",
            "implicit",
            "implicit",
            None,
            "No density can be evaluated; the model is a sampler.",
        ),
    ]
}


@dataclass(frozen=True)
class Family:
    r"""A family of deep generative models.

    Arguments:
        key: short name used by :func:`register`; also the name of the family's module
            (``gdl.<key>``) and of its folder in the gallery (``gallery/<key>/``).
        name: display name.
        chapters: chapters of *Generative Deep Learning* (2nd ed.) that cover it.
        key_idea: one sentence.
        key_equation: the defining equation, in LaTeX.
        goal: what training the model aims for.
        density: the key of its usual :class:`Density`.
    """

    key: str
    name: str
    chapters: tuple[int, ...]
    key_idea: str
    key_equation: str
    goal: str
    density: str
    in_tomczak: bool = True
    members: list[type] = field(default_factory=list, compare=False, repr=False)


#: The families of models, by key, in the order of the taxonomy.
FAMILIES: dict[str, Family] = {
    f.key: f
    for f in [
        Family(
            "autoregressive",
            "Autoregressive models",
            (5, 9),
            "Write the joint distribution as a product of one-dimensional conditionals, "
            "each predicted from the dimensions before it.",
            r"p(\mathbf{x}) = \prod_{i=1}^{D} p(x_i \mid \mathbf{x}_{<i})",
            "Predict the next dimension well; sample one dimension at a time.",
            "exact",
        ),
        Family(
            "flows",
            "Normalizing flows",
            (6,),
            "Map data to simple noise with an invertible network and count how it "
            "stretches volume.",
            r"\log p(\mathbf{x}) = \log p_Z(f(\mathbf{x})) "
            r"+ \log\left\lvert\det \frac{\partial f(\mathbf{x})}{\partial \mathbf{x}}\right\rvert",
            "Turn a simple distribution into the data distribution, exactly invertibly.",
            "exact",
        ),
        Family(
            "latent",
            "Latent-variable models",
            (3,),
            "Explain each observation by an unobserved code, and learn an encoder that "
            "guesses the code.",
            r"\log p(\mathbf{x}) \ge \mathbb{E}_{q(\mathbf{z}\mid\mathbf{x})}"
            r"[\log p(\mathbf{x}\mid\mathbf{z})] "
            r"- \mathrm{KL}(q(\mathbf{z}\mid\mathbf{x}) \,\Vert\, p(\mathbf{z}))",
            "Learn a compressed representation from which data can be generated.",
            "bound",
        ),
        Family(
            "energy",
            "Energy-based models",
            (7,),
            "Give every configuration a scalar energy; likely data sits in low-energy valleys.",
            r"p(\mathbf{x}) = \frac{\exp(-E(\mathbf{x}))}{Z},\quad "
            r"Z = \int \exp(-E(\mathbf{x}))\,d\mathbf{x}",
            "Lower the energy of data and raise it elsewhere, without computing Z.",
            "unnormalised",
        ),
        Family(
            "diffusion",
            "Score-based and diffusion models",
            (8,),
            "Learn the gradient of the log-density of noised data and follow it back from noise.",
            r"\mathbf{s}_\theta(\mathbf{x}, t) \approx \nabla_{\mathbf{x}} \log p_t(\mathbf{x})",
            "Denoise step by step from pure noise to data.",
            "bound",
        ),
        Family(
            "gan",
            "Generative adversarial networks",
            (4, 10),
            "Train a generator to fool a discriminator that tells real from generated data.",
            r"\min_G \max_D\; \mathbb{E}_{p_{\text{data}}}[\log D(\mathbf{x})] "
            r"+ \mathbb{E}_{p(\mathbf{z})}[\log(1 - D(G(\mathbf{z})))]",
            "Generate samples the best discriminator cannot tell from data.",
            "implicit",
            in_tomczak=False,
        ),
    ]
}

#: Every registered model class, by class name.
REGISTRY: dict[str, type] = {}


def register(family: str, density: str | None = None):
    """Class decorator that places a model in the taxonomy.

    Sets ``cls.family`` and ``cls.density`` and records the class in :data:`REGISTRY`.

    Arguments:
        family: a key of :data:`FAMILIES`.
        density: a key of :data:`DENSITIES`; defaults to the family's usual kind.

    Raises:
        ValueError: if ``family`` or ``density`` is not a known key.
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {sorted(FAMILIES)}, got {family!r}")
    density = FAMILIES[family].density if density is None else density
    if density not in DENSITIES:
        raise ValueError(f"density must be one of {sorted(DENSITIES)}, got {density!r}")

    def decorate(cls: type) -> type:
        cls.family = family
        cls.density = density
        REGISTRY[cls.__name__] = cls
        if cls not in FAMILIES[family].members:
            FAMILIES[family].members.append(cls)
        return cls

    return decorate


def models_of(family: str) -> list[type]:
    """The registered model classes of one family, in registration order.

    Only models whose modules have been imported are listed; :func:`gdl.import_all` imports them all.
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {sorted(FAMILIES)}, got {family!r}")
    return list(FAMILIES[family].members)
