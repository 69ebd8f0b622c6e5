"""What one process of the two-process test runs (tests/test_distributed.py launches it with
``python -m torch.distributed.run --standalone --nproc_per_node 2``). Each rank writes what it
ended with to ``OUT/rank<r>.pt``; rank-specific checkpoint paths show which ranks write."""

import os
import sys
from pathlib import Path

import torch

import gdl
from gdl import distributed
from gdl.autoregressive import CausalConvARM
from gdl.gan import DCGAN
from gdl.latent import VAE, VQVAE


class CountingARM(CausalConvARM):
    """A causal-conv ARM trained by plain SGD (whose step, unlike Adam's, scales with the
    gradient), counting the examples each of its losses sees."""

    seen: list[int]

    def loss(self, x):
        self.seen.append(len(x))
        return super().loss(x)

    def configure_optimizers(self, lr):
        return torch.optim.SGD(self.parameters(), lr=lr)


def data():
    return torch.randint(0, 3, (64, 1, 2, 2), generator=torch.Generator().manual_seed(1))


def arm(init_seed: int):
    torch.manual_seed(init_seed)
    model = CountingARM(event_shape=(1, 2, 2), num_levels=3, hidden=8, num_layers=2)
    model.seen = []
    return model


def train_arm(model, **kw):
    gdl.fit(model, data(), steps=20, batch_size=16, lr=0.5, seed=3, progress=False, log_every=0, **kw)
    return model


def main(out: Path) -> None:
    rank = int(os.environ["RANK"])
    model = train_arm(arm(init_seed=rank), checkpoint=out / f"ckpt{rank}.pt")  # rank 1 starts elsewhere
    vq = VQVAE(event_shape=(1, 4, 4), num_levels=4, num_codes=8, code_dim=2, hidden=8, prior_hidden=4,
               prior_blocks=1)
    x4 = torch.randint(0, 4, (32, 1, 4, 4), generator=torch.Generator().manual_seed(2))
    gdl.fit(vq, x4, steps=3, batch_size=8, seed=0, progress=False, log_every=0)
    torch.manual_seed(0)
    gan = DCGAN(event_shape=(1, 4, 4), num_levels=4, latent_dim=2, width=2)
    gdl.fit(gan, x4, steps=4, batch_size=8, seed=0, progress=False, log_every=0)
    torch.manual_seed(0)
    vae = VAE(event_shape=(1, 2, 2), num_levels=3, latent_dim=2, hidden=[8])
    history = gdl.fit(vae, data(), steps=400, batch_size=16, lr=0.05, val_data=data()[:24], eval_every=5,
                      patience=2, seed=0, progress=False, log_every=0)
    gdl.results.record("VAE", vae, data()[:24], dataset="toy", num_samples=0)
    torch.save({
        "arm": {k: v.clone() for k, v in model.state_dict().items()},
        "seen": model.seen,
        "codebook": vq.quantizer.codebook.detach().clone(),
        "bn": {k: v.clone() for k, v in gan.state_dict().items() if "running" in k or "num_batches" in k},
        "stopped": history.steps[-1],
        "world": distributed.world_size(),
    }, out / f"rank{rank}.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
