"""The order in which the build runs the gallery's scripts (docs/_ext/gallery_run.py)."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs" / "_ext"))
gallery_run = pytest.importorskip("gallery_run")  # needs sphinx, the docs extra


def test_a_script_others_wait_for_ranks_by_its_whole_chain():
    ddpm, ddim, fm, long_alone = (Path(f"{name}.py") for name in ("ddpm", "ddim", "fm", "long"))
    cost = {ddpm: 50.0, ddim: 20.0, fm: 60.0, long_alone: 100.0}
    waits = {ddpm: set(), ddim: {ddpm}, fm: {ddpm}, long_alone: set()}
    rank = gallery_run._priorities(cost, waits)
    assert rank[ddpm] == 50.0 + 60.0  # itself, then the longer of its two followers
    assert rank[fm] == 60.0 and rank[long_alone] == 100.0
    assert max(rank, key=rank.get) == ddpm  # it starts first, though the lone script is longer


def test_a_first_build_orders_scripts_by_their_budgets(tmp_path):
    script = tmp_path / "gallery" / "sec" / "plot_01_x.py"
    script.parent.mkdir(parents=True)
    script.write_text('"""x"""\n# sphinx_gallery_gdl_budget = 20\n')
    out = tmp_path / "auto_examples"
    assert gallery_run._last_cost(out, script, unit=4.0) == 80.0  # no cost file yet: 20 units of 4 s
    (out / "sec").mkdir(parents=True)
    (out / "sec" / "plot_01_x.cost.json").write_text('{"time": 33.5}')
    assert gallery_run._last_cost(out, script, unit=4.0) == 33.5  # then the time it took last


def test_a_script_can_wait_for_scripts_of_other_sections(tmp_path):
    clip, vae, latent, other = (tmp_path / p for p in ("multimodal/plot_01_clip.py", "latent/plot_02_vae.py",
                                                       "multimodal/plot_04_latent.py", "latent/plot_01_x.py"))
    for script in (clip, vae, latent, other):
        script.parent.mkdir(exist_ok=True)
        script.write_text('"""x"""\n')
    latent.write_text('"""x"""\n# sphinx_gallery_gdl_after = "plot_01_clip.py, latent/plot_02_vae.py"\n')
    everything = [clip, vae, latent, other]
    assert gallery_run._dependencies(latent, everything) == {clip, vae}
    assert gallery_run._dependencies(latent, [latent, other]) == set()  # what is not run is not waited for


def test_prepare_calls_run_before_their_script_on_the_pool(tmp_path):
    script = tmp_path / "compare" / "plot_01_x.py"
    script.parent.mkdir()
    script.write_text('"""x"""\n# sphinx_gallery_gdl_prepare = "math.pow(2, 3); gdl.quality.feature_network(seed=1)"\n')
    first, second = gallery_run.prepare_jobs(script)
    assert (first.script, first.call, second.call) == (script, "math.pow(2, 3)", "gdl.quality.feature_network(seed=1)")
    assert gallery_run.parse_call(second.call) == ("gdl.quality", "feature_network", (), {"seed": 1})
    assert gallery_run.run_prepare(first.call) >= 0.0
    # the script waits for its jobs; they start before every script, not on the build's tail
    long_alone = tmp_path / "plot_09_long.py"
    rank = gallery_run._priorities({script: 20.0, first: 0.0, second: 0.0, long_alone: 500.0},
                                   {script: {first, second}, first: set(), second: set(), long_alone: set()})
    assert min(rank[first], rank[second]) > rank[long_alone] > rank[script] == 20.0
    plain = tmp_path / "compare" / "plot_02_y.py"
    plain.write_text('"""y"""\n')
    assert gallery_run.prepare_jobs(plain) == []
    plain.write_text('"""y"""\n# sphinx_gallery_gdl_prepare = "pow(2, 3)"\n')
    with pytest.raises(ValueError, match="plot_02_y.py"):
        gallery_run.prepare_jobs(plain)


@pytest.mark.parametrize("call", ["pow(2, 3)", "math.pow(x, 3)", "math.pow", "import math"])
def test_a_prepare_call_that_is_not_a_module_function_with_literals_is_refused(call):
    with pytest.raises((ValueError, TypeError, SyntaxError)):
        gallery_run.parse_call(call)
