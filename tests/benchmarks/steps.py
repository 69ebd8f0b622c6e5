"""Training steps per second for one model of each family, on the CPU and, where there is one, a GPU.

Each model trains at the size its gallery script uses and at a larger width, on batches of the
digits (or of 2-D points, or of names), through :func:`gdl.fit`; after a few warm-up steps the
timed steps give steps per second. On a GPU it also times bfloat16 autocast.

    python tests/benchmarks/steps.py                # CPU, and CUDA if torch sees a GPU
    python tests/benchmarks/steps.py --steps 50 --device cpu
"""

from __future__ import annotations

import argparse
import time

import torch

import gdl
from gdl import data

BATCH = 128


def models(wide: bool):
    """(name, model, data) for one model of each family, at the gallery's size or wider."""
    x, _ = data.digits("train")
    names, _ = data.names("train")
    k = 4 if wide else 1
    yield "autoregressive: PixelCNN", gdl.PixelCNN(hidden=32 * k, num_blocks=6), x
    yield "autoregressive: GPT", gdl.GPT(vocab_size=27, block_size=names.shape[1], n_embd=64 * k, n_head=4), names
    yield "flows: Glow", gdl.Glow(hidden=64 * k, num_levels=17), x
    yield "latent: VAE", gdl.VAE(hidden=[512 * k], latent_dim=8), x
    yield "energy: EBM", gdl.EBM(event_shape=(1, 8, 8), hidden=(256 * k, 256 * k), bounds=(0, 16), rescale=True, steps=40, buffer_size=2000), x
    yield "diffusion: DDPM", gdl.DDPM(hidden=(256 * k, 256 * k), prediction="levels"), x
    yield "gan: DCGAN", gdl.DCGAN(width=32 * k), x


def steps_per_second(model, x, device: str, steps: int, autocast: str | None) -> float:
    gdl.fit(model, x, steps=3, batch_size=BATCH, device=device, progress=False, log_every=0, autocast=autocast)
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    gdl.fit(model, x, steps=steps, batch_size=BATCH, device=device, progress=False, log_every=0, autocast=autocast)
    if device == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--device", choices=["cpu", "cuda"], action="append")
    args = parser.parse_args()
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    torch.set_num_threads(1 if "cuda" not in devices else torch.get_num_threads())
    columns = [(d, None) for d in devices] + ([("cuda", "bf16")] if "cuda" in devices else [])
    head = "".join(f"{d + (' ' + a if a else ''):>14}" for d, a in columns)
    print(f"training steps per second, batch {BATCH}; threads on the CPU: {torch.get_num_threads()}")
    for wide in (False, True):
        print(f"\n{'larger width (x4)' if wide else 'gallery size':40}{head}")
        for (name, model, x) in models(wide):
            rates = []
            for device, autocast in columns:
                torch.manual_seed(0)
                rates.append(steps_per_second(model, x, device, args.steps, autocast))
            print(f"{name:40}" + "".join(f"{r:14.1f}" for r in rates))


if __name__ == "__main__":
    main()
