"""gdl.run: a script run as the build runs it gets one thread and the run's seed everywhere."""

import os
import random

import numpy as np
import torch

from gdl import run, train


def test_prepare_seeds_every_generator_and_fit(monkeypatch):
    monkeypatch.delenv(train.SEED_ENV, raising=False)
    assert run.prepare(7) == 7
    assert os.environ[train.SEED_ENV] == "7" and train.default_seed() == 7
    assert torch.get_num_threads() == 1
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    run.prepare(7)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a
    run.prepare(8)
    assert torch.rand(1).item() != a[2]


def test_run_script_runs_a_file_from_its_folder_with_the_seed(tmp_path, monkeypatch):
    monkeypatch.delenv(train.SEED_ENV, raising=False)
    script = tmp_path / "plot_x.py"
    out = tmp_path / "out.txt"
    script.write_text(
        "import os, torch\n"
        f"open({str(out)!r}, 'w').write(f\"{{os.getcwd()}} {{os.environ['GDL_SEED']}} {{torch.rand(1).item()}}\")\n"
    )
    run.run_script(script, seed=3)
    cwd, seed, value = out.read_text().split()
    torch.manual_seed(3)
    assert cwd == str(tmp_path) and seed == "3" and float(value) == torch.rand(1).item()
