"""The contract's defaults and the taxonomy registry."""

import pytest
import torch
from torch import nn

from gdl.base import GenerativeModel
from gdl.taxonomy import DENSITIES, FAMILIES, REGISTRY, models_of, register


class BoundModel(GenerativeModel):
    """A stand-in latent-variable model: ELBO only (registered locally, then removed)."""

    event_shape = (2,)

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(2))

    def elbo(self, x):
        return -((x - self.w) ** 2).sum(-1)

    def sample(self, n):
        return self.w.detach().expand(self._check_n(n), 2).clone()


@pytest.fixture
def bound_model():
    cls = register("latent")(BoundModel)
    yield cls()
    REGISTRY.pop("BoundModel")
    FAMILIES["latent"].members.remove(cls)


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


def test_register_places_the_model(bound_model):
    assert type(bound_model).family == "latent" and type(bound_model).density == "bound"
    assert BoundModel in models_of("latent")


def test_register_rejects_unknown_keys():
    with pytest.raises(ValueError, match="family must be one of"):
        register("magic")
    with pytest.raises(ValueError, match="density must be one of"):
        register("flow", density="sort-of")


def test_every_family_has_an_equation_idea_goal_and_known_density():
    assert set(FAMILIES) == {"autoregressive", "flow", "latent", "energy", "score", "gan"}
    for f in FAMILIES.values():
        assert f.key_idea and f.goal and f.key_equation.strip()
        assert f.density in DENSITIES
        assert "|" not in f.key_equation  # would break the Markdown table on the taxonomy page


def test_event_shape_is_checked(bound_model):
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 2\)"):
        bound_model._check_event(torch.zeros(3, 3))
