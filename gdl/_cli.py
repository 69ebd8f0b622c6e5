r"""``python -m gdl.train``: train any registered model on any data set of the package.

    python -m gdl.train PixelCNN --data digits --steps 2000 --batch-size 64
    python -m gdl.train VAE --data fashion-mnist --levels 4 --arg latent_dim=16 --device cuda --bf16
    torchrun --nproc_per_node 2 -m gdl.train CausalConvARM --data digits --steps 500 --batch-size 64

It builds the model with the data's shape (``event_shape``, ``num_levels``, or a vocabulary and
length for text), trains it with :func:`gdl.fit` (early stopping on the validation split where
there is one), prints the test metric in the site's units (nats per example and bits per
dimension, with its kind; the FD on gdl features for a model without a likelihood) and saves a
checkpoint. Under ``torchrun`` every process runs it; rank 0 prints and saves.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import sys

import torch

from . import data, distributed, import_all
from .metrics import KINDS, bits_per_dim, test_nll
from .taxonomy import REGISTRY
from .train import fit

DATA = ("digits", "fashion-mnist", "names", *data.TOY_SETS)


def load(name: str, levels: int | None):
    """``(train, val, test, info)`` of a data set; ``info`` holds what a model's constructor needs."""
    if name in data.IMAGE_SETS:
        images = data.image_set(name)
        levels = levels or images.num_levels
        x, _ = images.load("train", levels)
        x_test, _ = images.load("test", levels)
        x_val = data.digits("val")[0] if name == "digits" else None
        if name != "digits":
            x, x_val = x[:-5000], x[-5000:]
        return x, x_val, x_test, {"event_shape": images.shape, "num_levels": levels}
    if name == "names":
        x, _ = data.names("train")
        info = {"vocab_size": data.NAMES_VOCAB.size, "max_len": x.shape[1], "block_size": x.shape[1]}
        return x, data.names("val")[0], data.names("test")[0], info
    x, _ = data.toy_2d(name, 4000, seed=0)
    return x, data.toy_2d(name, 1000, seed=1)[0], data.toy_2d(name, 2000, seed=2)[0], {"event_shape": (2,)}


def build(model_name: str, info: dict, extra: dict):
    import_all()
    if model_name not in REGISTRY:
        raise SystemExit(f"unknown model {model_name!r}; registered: {', '.join(sorted(REGISTRY))}")
    cls = REGISTRY[model_name]
    accepted = inspect.signature(cls).parameters
    kwargs = {k: v for k, v in info.items() if k in accepted}
    return cls(**(kwargs | extra))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gdl.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a registered model, e.g. PixelCNN, VAE, RealNVP, DCGAN")
    parser.add_argument("--data", default="digits", choices=DATA)
    parser.add_argument("--levels", type=int, help="grey levels for Fashion-MNIST (default 256)")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64, help="global, over all processes")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="cpu, cuda (default: cuda if available)")
    parser.add_argument("--bf16", action="store_true", help="train under bfloat16 autocast")
    parser.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE",
                        help="a constructor argument of the model, e.g. --arg hidden=128")
    parser.add_argument("--checkpoint", help="where to save (and resume from); default MODEL-DATA.pt")
    args = parser.parse_args(argv)

    extra = {}
    for item in args.arg:
        key, _, value = item.partition("=")
        try:
            extra[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            extra[key] = value
    torch.manual_seed(args.seed)
    x, x_val, x_test, info = load(args.data, args.levels)
    model = build(args.model, info, extra)
    has_metric = any(hasattr(model, q) for q in ("log_prob", "elbo"))
    checkpoint = args.checkpoint or f"{args.model}-{args.data}.pt"
    history = fit(
        model, x, steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
        device=args.device, val_data=x_val if has_metric else None, eval_every=args.eval_every,
        patience=args.patience if has_metric else None, checkpoint=checkpoint,
        autocast="bf16" if args.bf16 else None,
    )
    nll, kind = test_nll(model, x_test.to(model.device))
    if not distributed.is_main():
        return
    dims = int(torch.Size(model.event_shape).numel())
    if nll is not None:
        discrete = not x_test.is_floating_point()
        what = KINDS[kind] if discrete else f"{kind} density"
        print(f"{args.model} on {args.data} test: {nll:.2f} nats/example = "
              f"{bits_per_dim(nll, dims):.4f} bits/dim ({what})")
    elif args.data in data.IMAGE_SETS:
        from .quality import quality_line, sample_quality

        samples = model.sample(1000).cpu()
        levels = info["num_levels"] if info["num_levels"] != data.image_set(args.data).num_levels else None
        print(f"{args.model} on {args.data} test: "
              + quality_line(sample_quality(samples, args.data, num_levels=levels)))
    else:
        print(f"{args.model} on {args.data}: {KINDS[kind]}")
    print(f"trained {history.steps[-1] if history.steps else 0} steps in {history.seconds:.1f} s; "
          f"checkpoint {checkpoint}")


if __name__ == "__main__":
    sys.exit(main())
