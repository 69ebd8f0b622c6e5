"""gdl.distributed: two processes under torchrun (gloo, on the CPU) train what one process would.

One launch of ``python -m torch.distributed.run --standalone --nproc_per_node 2`` runs
``distributed_worker.py``; its two ranks must end with bit-identical weights, equal to a
single-process run with the same global batch to about 1e-6 (a missing division of the gradients
by the world size, a missing slice of the batch, or a missing broadcast of the first weights each
break that); the VQ-VAE's codebook and the DCGAN's BatchNorm buffers must agree; both ranks must
stop early at the same step; and only rank 0 may write checkpoints and results.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def launch(tmp_path_factory):
    out = tmp_path_factory.mktemp("ranks")
    env = dict(os.environ, OMP_NUM_THREADS="1", GDL_RESULTS_DIR=str(out / "results"),
               PYTHONPATH=os.pathsep.join([str(HERE.parent), str(HERE), os.environ.get("PYTHONPATH", "")]))
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(HERE / "distributed_worker.py"), str(out)],
        env=env, capture_output=True, text=True, timeout=180,
    )
    seconds = time.perf_counter() - start
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    print(f"two-process launch: {seconds:.1f} s")
    ranks = [torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    return out, ranks


def test_both_ranks_end_with_the_same_weights_as_one_process(launch):
    from distributed_worker import arm, train_arm

    _, (r0, r1) = launch
    assert r0["world"] == r1["world"] == 2
    for k in r0["arm"]:
        assert torch.equal(r0["arm"][k], r1["arm"][k]), f"{k} differs between the ranks"
    single = train_arm(arm(init_seed=0))  # rank 0's starting weights, the whole batch of 16
    for k, v in single.state_dict().items():
        torch.testing.assert_close(r0["arm"][k], v, rtol=1e-6, atol=1e-6)


def test_each_rank_sees_its_slice_of_every_batch(launch):
    _, (r0, r1) = launch
    assert r0["seen"] == r1["seen"] == [8] * 20  # 16 examples a step, 8 on each rank


def test_codebook_batchnorm_buffers_and_early_stopping_agree_across_ranks(launch):
    _, (r0, r1) = launch
    assert torch.equal(r0["codebook"], r1["codebook"])
    assert r0["bn"] and all(torch.equal(r0["bn"][k], r1["bn"][k]) for k in r0["bn"])
    assert r0["stopped"] == r1["stopped"] < 400  # both stopped early, at the same step


def test_only_rank_0_writes_checkpoints_and_results(launch):
    out, _ = launch
    assert (out / "ckpt0.pt").exists() and not (out / "ckpt1.pt").exists()
    rows = list((out / "results").glob("*.json"))
    assert len(rows) == 1 and json.loads(rows[0].read_text())["model"] == "VAE"


def test_a_batch_not_divisible_by_the_processes_is_a_clear_error(monkeypatch):
    from gdl import distributed, fit
    from distributed_worker import arm, data

    monkeypatch.setattr(distributed, "world_size", lambda: 3)
    monkeypatch.setattr(distributed, "init_from_environment", lambda device: None)
    with pytest.raises(ValueError, match=r"batch_size must be divisible by the number of processes \(3\), got 16"):
        fit(arm(0), data(), steps=1, batch_size=16, progress=False, log_every=0)
