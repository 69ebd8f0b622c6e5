"""gdl.taxonomy: the families, the kinds of density and the registry; one name per family."""

from pathlib import Path

import pytest

import gdl
from gdl.taxonomy import DENSITIES, FAMILIES, REGISTRY, models_of, register

ROOT = Path(__file__).resolve().parent.parent


def test_register_places_the_model(bound_model):
    assert type(bound_model).family == "latent" and type(bound_model).density == "bound"
    assert type(bound_model) in models_of("latent")


def test_register_rejects_unknown_keys():
    with pytest.raises(ValueError, match="family must be one of"):
        register("magic")
    with pytest.raises(ValueError, match="density must be one of"):
        register("flows", density="sort-of")


def test_every_family_has_an_equation_idea_goal_and_known_density():
    assert set(FAMILIES) == {"autoregressive", "flows", "latent", "energy", "diffusion", "gan"}
    for f in FAMILIES.values():
        assert f.key_idea and f.goal and f.key_equation.strip()
        assert f.density in DENSITIES
        assert "|" not in f.key_equation  # would break the Markdown table on the taxonomy page


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_one_name_per_family_for_its_module_gallery_folder_and_models(family):
    assert family in gdl.MODEL_MODULES
    module = getattr(gdl, family)  # gdl.<family> is the family's module
    assert module.__name__ == f"gdl.{family}"
    assert (ROOT / "gallery" / family / "README.txt").is_file()
    for cls in models_of(family):
        assert cls.__module__.split(".")[1] == family, f"{cls.__name__} lives in {cls.__module__}"


def test_every_registered_model_is_a_public_name():
    for name, cls in REGISTRY.items():
        if cls.__module__.startswith("gdl."):
            assert getattr(gdl, name) is cls
