"""gdl.train: fit's determinism, early stopping, weight averaging, divergence, checkpoints and cache."""

import os

import pytest
import torch
from torch import nn

from gdl import metrics
from gdl.autoregressive import CausalConvARM
from gdl.base import GenerativeModel
from gdl.train import TrainingDiverged, evaluate, fit


class Gaussian1D(GenerativeModel):
    """log N(x; mu, exp(log_sigma)^2): a model whose optimum is known in closed form."""

    event_shape = (1,)

    def __init__(self, mu=0.0):
        super().__init__()
        self.mu = nn.Parameter(torch.tensor(mu))
        self.log_sigma = nn.Parameter(torch.tensor(0.0))

    def log_prob(self, x):
        d = torch.distributions.Normal(self.mu, self.log_sigma.exp())
        return d.log_prob(x).sum(-1)

    def sample(self, n):
        return (self.mu + self.log_sigma.exp() * torch.randn(n, 1)).detach()


def arm_and_data():
    x = torch.randint(0, 3, (96, 1, 2, 2), generator=torch.Generator().manual_seed(1))
    return CausalConvARM(event_shape=(1, 2, 2), num_levels=3, hidden=8, num_layers=2), x


def test_same_seed_same_run():
    runs = []
    for _ in range(2):
        model, x = arm_and_data()
        torch.manual_seed(5)
        model = CausalConvARM(event_shape=(1, 2, 2), num_levels=3, hidden=8, num_layers=2)
        h = fit(model, x, steps=30, batch_size=16, seed=3, progress=False, log_every=0)
        runs.append((h.train_loss, [p.detach().clone() for p in model.parameters()]))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))


def test_fit_finds_the_maximum_likelihood_gaussian():
    torch.manual_seed(0)
    x = 3.0 + 0.5 * torch.randn(2000, 1)
    model = Gaussian1D()
    fit(model, x, steps=800, batch_size=2000, lr=0.05, seed=0, progress=False, log_every=0)
    # The MLE is the sample mean and the (biased) sample standard deviation.
    assert model.mu.item() == pytest.approx(x.mean().item(), abs=0.02)
    assert model.log_sigma.exp().item() == pytest.approx(x.std(unbiased=False).item(), abs=0.02)


def test_early_stopping_keeps_the_best_weights():
    torch.manual_seed(0)
    x_train = torch.randint(0, 3, (32, 1, 2, 2))
    x_val = torch.randint(0, 3, (64, 1, 2, 2))  # unrelated data: the model overfits quickly
    model = CausalConvARM(event_shape=(1, 2, 2), num_levels=3, hidden=64, num_layers=3)
    h = fit(model, x_train, steps=2000, batch_size=32, lr=1e-2, val_data=x_val, eval_every=5,
            patience=5, seed=0, progress=False, log_every=0)
    assert h.stopped_early and h.steps[-1] < 2000
    assert h.best_val == min(h.val_metric)
    assert h.val_metric[h.val_steps.index(h.best_step)] == h.best_val
    assert metrics.nll(model, x_val) == pytest.approx(h.best_val, rel=1e-5)


def test_ema_returns_the_moving_average_of_the_weights():
    # Replay the same run by hand: plain Adam steps on the same batches, averaging as we go.
    x = torch.randn(64, 1, generator=torch.Generator().manual_seed(1)) * 2 + 3
    decay, steps = 0.9, 30
    model = Gaussian1D()
    fit(model, x, steps=steps, batch_size=16, lr=0.05, seed=0, log_every=0, ema=decay)

    replay = Gaussian1D()
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    optimizer = replay.configure_optimizers(0.05)
    average = [p.detach().clone() for p in replay.parameters()]
    order, cursor = torch.randperm(64, generator=generator), 0
    for _ in range(steps):
        if cursor + 16 > 64:
            order, cursor = torch.randperm(64, generator=generator), 0
        batch = x[order[cursor : cursor + 16]]
        cursor += 16
        replay.train_step(batch, optimizer)
        average = [decay * a + (1 - decay) * p.detach() for a, p in zip(average, replay.parameters())]
    for p, a, live in zip(model.parameters(), average, replay.parameters()):
        torch.testing.assert_close(p.detach(), a)
        assert not torch.allclose(a, live.detach())  # the average is not the last step


def test_ema_drives_validation_and_leaves_the_average_in_the_model():
    x = torch.randn(256, 1, generator=torch.Generator().manual_seed(2)) + 1
    model = Gaussian1D()
    history = fit(model, x, steps=40, batch_size=32, lr=0.1, val_data=x[:64], eval_every=10,
                  seed=0, log_every=0, ema=0.8)
    best = history.val_metric[history.val_steps.index(history.best_step)]
    assert evaluate(lambda b: -model.log_prob(b), x[:64]) == pytest.approx(best, rel=1e-6)
    with pytest.raises(ValueError, match="ema"):
        fit(model, x, steps=1, ema=1.0)


def test_divergence_stops_with_a_clear_error():
    model, x = arm_and_data()
    with torch.no_grad():
        model.net[0].weight.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match=r"became nan at step 1"):
        fit(model, x, steps=10, progress=False, log_every=0)


def test_fit_validates_its_arguments():
    model, x = arm_and_data()
    for kwargs, name in [({"steps": 0}, "steps"), ({"steps": 5, "batch_size": 0}, "batch_size"),
                         ({"steps": 5, "lr": 0.0}, "lr"), ({"steps": 5, "patience": 0}, "patience")]:
        with pytest.raises(ValueError, match=name):
            fit(model, x, progress=False, **kwargs)
    with pytest.raises(TypeError, match="data must be"):
        fit(model, [1, 2, 3], steps=1, progress=False)


def test_log_lines_without_a_terminal(capsys):
    model, x = arm_and_data()
    fit(model, x, steps=20, batch_size=16, val_data=x, eval_every=10, seed=0, progress=False)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].startswith("step     10/20") and "val" in out[0]


def test_evaluate_is_the_mean_over_batches():
    x = torch.arange(10.0).view(10, 1)
    assert evaluate(lambda b: b[:, 0], x, batch_size=3) == pytest.approx(4.5)


def test_the_cache_returns_the_trained_weights_history_and_random_state(tmp_path, monkeypatch):
    monkeypatch.setenv("GDL_CACHE_DIR", str(tmp_path))
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model, x = arm_and_data()  # the same initial weights each time
        h = fit(model, x, steps=25, batch_size=16, seed=1, log_every=0, ema=0.9, cache=True)
        runs.append((h, [p.detach().clone() for p in model.parameters()], torch.rand(3)))
    (trained, w1, r1), (loaded, w2, r2) = runs
    assert not trained.from_cache and loaded.from_cache
    assert loaded.train_loss == trained.train_loss and loaded.seconds == trained.seconds
    assert all(torch.equal(a, b) for a, b in zip(w1, w2))
    assert torch.equal(r1, r2)  # what follows fit draws the same numbers, trained or loaded
    assert len(list(tmp_path.glob("*.pt"))) == 1


def test_the_cache_key_changes_with_settings_data_initial_weights_and_code(tmp_path, monkeypatch):
    from gdl import train

    monkeypatch.setenv("GDL_CACHE_DIR", str(tmp_path))
    model, x = arm_and_data()
    settings = dict(steps=5, batch_size=16, lr=1e-3, eval_every=100, patience=None, seed=0, ema=None, device="cpu")
    key = train._cache_key(model, (x,), None, settings)
    assert key == train._cache_key(model, (x,), None, dict(settings))
    assert key != train._cache_key(model, (x,), None, settings | {"lr": 2e-3})
    assert key != train._cache_key(model, (x[:-1],), None, settings)
    other, _ = arm_and_data()
    torch.manual_seed(123)
    other = type(model)(event_shape=(1, 2, 2), num_levels=3, hidden=8, num_layers=2)  # other init
    assert key != train._cache_key(other, (x,), None, settings)
    source = tmp_path / "model_code.py"
    source.write_text("a")
    monkeypatch.setattr(train, "_code_files", lambda m: [source])
    before = train._cache_key(model, (x,), None, settings)
    source.write_text("b")  # the model's code changed
    assert train._cache_key(model, (x,), None, settings) != before


def test_two_processes_asking_for_the_same_weights_train_them_once(tmp_path):
    import subprocess
    import sys

    script = (
        "import torch, gdl\n"
        "from gdl.autoregressive import CausalConvARM\n"
        "torch.manual_seed(0)\n"
        "x = torch.randint(0, 3, (96, 1, 2, 2), generator=torch.Generator().manual_seed(1))\n"
        "m = CausalConvARM(event_shape=(1, 2, 2), num_levels=3, hidden=64, num_layers=3)\n"
        "h = gdl.fit(m, x, steps=400, batch_size=16, log_every=0, cache=True)\n"
        "print('loaded' if h.from_cache else 'trained')\n"
    )
    env = dict(os.environ, GDL_CACHE_DIR=str(tmp_path), OMP_NUM_THREADS="1")
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = sorted(p.communicate(timeout=120)[0].strip() for p in procs)
    assert outs == ["loaded", "trained"]


# ---------------------------------------------------------------------- divergence and checkpoints
@pytest.mark.parametrize("make, lr", [
    (lambda: __import__("gdl").RealNVP(event_shape=(2,), num_couplings=2, hidden=8), 100.0),
    (lambda: __import__("gdl").MAF(event_shape=(2,), num_layers=2, hidden=[8]), 100.0),
])
def test_outputs_that_blow_up_with_finite_parameters_stop_with_training_diverged(make, lr):
    # Before, torch.distributions raised a raw ValueError on the infinite latent.
    torch.manual_seed(0)
    model = make()
    with pytest.raises(TrainingDiverged, match="became"):
        fit(model, torch.randn(64, 2), steps=50, batch_size=16, lr=lr, progress=False, log_every=0)


def test_a_vae_at_an_absurd_learning_rate_stops_with_training_diverged():
    from gdl.latent import VAE

    torch.manual_seed(0)
    model = VAE(event_shape=(1, 4, 4), num_levels=3, latent_dim=2, hidden=[8])
    x = torch.randint(0, 3, (64, 1, 4, 4))
    with pytest.raises(TrainingDiverged):
        fit(model, x, steps=50, batch_size=16, lr=1e10, progress=False, log_every=0)


def _checkpoint_run(path, steps=60, **kw):
    from gdl.latent import VAE

    torch.manual_seed(0)
    model = VAE(event_shape=(1, 4, 4), num_levels=3, latent_dim=2, hidden=[16], dropout=0.2)
    x = torch.randint(0, 3, (96, 1, 4, 4), generator=torch.Generator().manual_seed(1))
    history = fit(model, x, steps=steps, batch_size=16, lr=1e-2, val_data=x[:32], eval_every=7, ema=0.9,
                  seed=4, progress=False, log_every=0, checkpoint=path, checkpoint_every=10, **kw)
    return model, history


def test_a_finished_checkpoint_returns_its_model_and_refuses_another_run(tmp_path):
    path = tmp_path / "run.pt"
    first, h_first = _checkpoint_run(path, steps=30)
    state = torch.load(path, weights_only=True)
    assert state["step"] == 30 and state["done"]
    again, h_again = _checkpoint_run(path, steps=30)  # nothing left to train: the saved result
    assert h_again.train_loss == h_first.train_loss and h_again.seconds == h_first.seconds
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), again.state_dict().values()))
    with pytest.raises(ValueError, match=r"does not match this run: steps is 30 there, 60 here"):
        _checkpoint_run(path, steps=60)


def test_a_corrupt_or_foreign_checkpoint_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"checkpoint .*bad.pt is corrupt or not a gdl.fit checkpoint"):
        _checkpoint_run(bad)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(ValueError, match="is not a gdl.fit checkpoint"):
        _checkpoint_run(other)


KILLED_RUN = """
import sys, torch
sys.path.insert(0, {tests!r})
from test_train import _checkpoint_run
_checkpoint_run({path!r}, steps=400)
"""


def test_training_killed_with_sigkill_resumes_to_bit_identical_weights(tmp_path):
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    whole, h_whole = _checkpoint_run(None, steps=400)
    path = tmp_path / "run.pt"
    code = KILLED_RUN.format(tests=str(Path(__file__).parent), path=str(path))
    proc = subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ, OMP_NUM_THREADS="1"))
    deadline = time.time() + 60
    step = 0
    while time.time() < deadline:  # wait for a checkpoint well into the run, then kill
        if path.exists():
            try:
                step = torch.load(path, weights_only=True)["step"]
            except Exception:  # caught mid-rename: try again
                step = 0
            if step >= 100:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL and 100 <= step < 400, (proc.returncode, step)
    resumed, h_resumed = _checkpoint_run(path, steps=400)
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), f"{name} differs after resuming"
    assert h_resumed.train_loss == h_whole.train_loss and h_resumed.val_metric == h_whole.val_metric
    assert h_resumed.best_step == h_whole.best_step


def test_the_command_line_trains_a_registered_model_and_prints_its_test_metric(tmp_path):
    import subprocess
    import sys

    checkpoint = tmp_path / "flow.pt"
    done = subprocess.run(
        [sys.executable, "-m", "gdl.train", "RealNVP", "--data", "moons", "--steps", "30",
         "--batch-size", "32", "--arg", "hidden=16", "--arg", "num_couplings=2",
         "--checkpoint", str(checkpoint)],
        capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "RealNVP on moons test:" in done.stdout and "nats/example" in done.stdout
    assert "(exact density)" in done.stdout  # continuous points: a density, not a discrete NLL
    assert checkpoint.exists() and torch.load(checkpoint, weights_only=True)["done"]
    bad = subprocess.run([sys.executable, "-m", "gdl.train", "NoSuchModel"], capture_output=True, text=True)
    assert bad.returncode != 0 and "unknown model 'NoSuchModel'" in bad.stderr
