"""Train a multi-exit model: SGD (momentum 0.9), loss = sum of the exits' cross-entropies, a
checkpoint every epoch, the best epoch chosen on the held-out validation split (never the test set).

    python3 -m multiexit train --arch ranet --preset fmnist --out runs/ranet-fmnist     # ~2 h on 2 CPU cores
    python3 -m multiexit train --arch msdnet --preset fmnist --out runs/msdnet-fmnist
    python3 -m multiexit train --arch ranet --out runs/ranet-fmnist --resume            # continue after a stop
    python3 -m multiexit train --arch msdnet --dry-run                                  # smoke test, seconds
    python3 -m multiexit train --arch ranet --preset paper-cifar10 --data cifar10 \
        --data-dir /path/cifar-10-batches-py --epochs 300 --schedule step --batch-size 64

Writes to --out: checkpoint.pt (last epoch, with optimizer state), best.pt (best mean
validation accuracy over the exits), history.jsonl (one line per epoch).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import List

import numpy as np
import torch
import torch.nn as nn

from . import data as data_mod
from .archs import get_arch, list_models, load_callable
from .interface import MultiExitModel, count_parameters
from .errors import UsageError


def parse_args(argv: List[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="ranet", choices=list_models(), help="architecture (default ranet)")
    ap.add_argument(
        "--preset", default="fmnist", help="the architecture's preset (its module's PRESETS; default fmnist)"
    )
    ap.add_argument(
        "--model",
        help="FILE.py:CALLABLE returning your own model on the staging interface (instead of --arch/--preset)",
    )
    ap.add_argument("--data", default="fmnist", choices=["fmnist", "cifar10"], help="data set (default fmnist)")
    ap.add_argument(
        "--data-dir", default=None, help=f"data folder (default {data_mod.FMNIST_DIR} for fmnist; required for cifar10)"
    )
    ap.add_argument("--out", default=None, help="run folder for checkpoints and history (default runs/ARCH-PRESET)")
    ap.add_argument(
        "--epochs", type=int, default=24, help="training epochs (default 24: about an hour on 2 cores for fmnist)"
    )
    ap.add_argument(
        "--batch-size",
        type=int,
        default=128,
        help="mini-batch size (default 128; the reference uses 64, 128 is 20%% faster per epoch on CPU)",
    )
    ap.add_argument("--lr", type=float, default=0.1, help="initial learning rate (default 0.1)")
    ap.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default 0.9)")
    ap.add_argument("--weight-decay", type=float, default=1e-4, help="weight decay (default 1e-4)")
    ap.add_argument(
        "--schedule",
        default="cosine",
        choices=["cosine", "step"],
        help="cosine, or step (x0.1 at 50%% and 75%% of the epochs, the reference)",
    )
    ap.add_argument("--val-size", type=int, default=5000, help="validation images held out of training (default 5000)")
    ap.add_argument("--seed", type=int, default=0, help="seed for the split, init and augmentation (default 0)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch CPU threads (default: all cores)")
    ap.add_argument("--resume", action="store_true", help="continue from --out/checkpoint.pt")
    ap.add_argument(
        "--dry-run",
        action="store_true",
        help="smoke mode: tiny preset, 512 images, 1 epoch, into a temporary folder unless --out is given",
    )
    args = ap.parse_args(argv)
    if args.dry_run:
        args.preset = "tiny" if args.preset == "fmnist" else args.preset
        args.epochs = min(args.epochs, 1)
        if args.out is None:
            import tempfile

            args.out = tempfile.mkdtemp(prefix=f"{args.arch}-dry-run-")
    if args.out is None:
        args.out = f"runs/{args.arch}-{args.preset}"
    return args


def lr_at(args: argparse.Namespace, epoch: float) -> float:
    if args.schedule == "cosine":
        return 0.5 * args.lr * (1 + math.cos(math.pi * epoch / args.epochs))
    frac = epoch / args.epochs
    return args.lr * (0.1 ** ((frac >= 0.5) + (frac >= 0.75)))


@torch.no_grad()
def predict_logits(model: MultiExitModel, x: np.ndarray, mean, std, batch_size: int = 500) -> np.ndarray:
    """uint8 images -> float32 logits [N, exits, classes], eval mode (mode restored)."""
    was_training = model.training
    model.eval()
    out = []
    for i in range(0, len(x), batch_size):
        xb = data_mod.normalise(torch.from_numpy(x[i : i + batch_size]), mean, std)
        out.append(torch.stack(model(xb), dim=1).numpy())
    model.train(was_training)
    return np.concatenate(out) if out else np.zeros((0, model.n_exits, model.config.num_classes), np.float32)


def accuracies(logits: np.ndarray, y: np.ndarray) -> List[float]:
    return [float((logits[:, k].argmax(1) == y).mean()) for k in range(logits.shape[1])]


class Progress:
    """One line per update on a terminal (\\r), about every 10% otherwise (logs)."""

    def __init__(self, total: int, prefix: str):
        self.total, self.prefix, self.t0 = total, prefix, time.time()
        self.tty = sys.stderr.isatty()
        self.last_decile = -1

    def update(self, done: int, text: str) -> None:
        decile = done * 10 // self.total
        if not self.tty and decile == self.last_decile and done != self.total:
            return
        self.last_decile = decile
        el = time.time() - self.t0
        eta = el / done * (self.total - done) if done else 0
        width = 24
        bar = "#" * (done * width // self.total) + "." * (width - done * width // self.total)
        line = f"{self.prefix} [{bar}] {done}/{self.total} {el:5.0f}s eta {eta:4.0f}s {text}"
        sys.stderr.write(("\r" + line) if self.tty else (line + "\n"))
        if self.tty and done == self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def save(path: str, payload: dict) -> None:
    tmp = path + ".tmp"
    torch.save(payload, tmp)
    os.replace(tmp, path)


def train(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    if args.model:
        model = load_callable(args.model)()
        cfg, args.arch = model.config, model.arch or "custom"
    else:
        arch = get_arch(args.arch)
        cfg = arch.preset(args.preset)
        model = arch.model_class(cfg)
    ds = data_mod.load(
        args.data,
        args.data_dir,
        args.val_size if not args.dry_run else 256,
        args.seed,
        limit=512 if args.dry_run else 0,
    )
    if (cfg.in_channels, cfg.in_size, cfg.in_size) != ds.train_x.shape[1:]:
        raise UsageError(
            f"the model ({args.arch}) expects {cfg.in_channels}x{cfg.in_size}x{cfg.in_size} "
            f"input, data set {args.data} has {tuple(ds.train_x.shape[1:])}"
        )
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    gen = torch.Generator().manual_seed(args.seed)
    start_epoch, best = 0, {"epoch": -1, "val_mean": -1.0}
    ckpt_path = os.path.join(args.out, "checkpoint.pt")
    if args.resume:
        if not os.path.exists(ckpt_path):
            raise UsageError(f"--resume: no checkpoint at {ckpt_path}")
        ck = torch.load(ckpt_path)
        if ck.get("arch", "ranet") != args.arch:
            raise UsageError(f"--resume: {ckpt_path} holds a {ck.get('arch', 'ranet')} model, not {args.arch}")
        if ck["config"] != cfg.to_dict():
            raise UsageError(f"--resume: {ckpt_path} was trained with another config")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        gen.set_state(ck["generator"])
        start_epoch, best = ck["epoch"] + 1, ck["best"]
        print(f"resumed from {ckpt_path} at epoch {start_epoch}", file=sys.stderr)
    print(
        f"{args.arch} {args.preset}: {count_parameters(model):,} parameters, {model.n_exits} exits; "
        f"{len(ds.train_x)} train / {len(ds.val_x)} val / {len(ds.test_x)} test images; "
        f"{args.threads} threads",
        file=sys.stderr,
    )
    xtrain, ytrain = torch.from_numpy(ds.train_x), torch.from_numpy(ds.train_y)
    criterion = nn.CrossEntropyLoss()
    history_path = os.path.join(args.out, "history.jsonl")
    for epoch in range(start_epoch, args.epochs):
        model.train()
        plan = data_mod.batches(len(xtrain), args.batch_size, True, gen)
        prog = Progress(len(plan), f"epoch {epoch + 1}/{args.epochs}")
        loss_sum, seen = 0.0, 0
        correct = torch.zeros(model.n_exits)
        t0 = time.time()
        for step, (_, idx) in enumerate(plan):
            for group in opt.param_groups:
                group["lr"] = lr_at(args, epoch + step / len(plan))
            xb = data_mod.augment(xtrain[idx], ds.crop_padding, ds.hflip, gen)
            xb = data_mod.normalise(xb, ds.mean, ds.std)
            yb = ytrain[idx]
            outs = model(xb)
            loss = sum(criterion(o, yb) for o in outs)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += float(loss) * len(idx)
            seen += len(idx)
            correct += torch.tensor([(o.argmax(1) == yb).sum().item() for o in outs], dtype=torch.float32)
            accs = " ".join(f"{100 * c / seen:4.1f}" for c in correct)
            prog.update(step + 1, f"loss {loss_sum / seen:.3f} acc/exit {accs}")
        val = accuracies(predict_logits(model, ds.val_x, ds.mean, ds.std), ds.val_y)
        val_mean = float(np.mean(val))
        record = {
            "epoch": epoch + 1,
            "seconds": round(time.time() - t0, 1),
            "loss": loss_sum / seen,
            "lr_end": lr_at(args, epoch + 1),
            "val_acc": val,
            "val_mean": val_mean,
        }
        print(f"epoch {epoch + 1}: val acc per exit " + " ".join(f"{100 * a:.2f}" for a in val), file=sys.stderr)
        payload = {
            "arch": args.arch,
            "config": cfg.to_dict(),
            "model": model.state_dict(),
            "epoch": epoch,
            "dataset": {"name": ds.name, "labels": ds.labels, "mean": ds.mean, "std": ds.std, "source": ds.source},
            "args": {k: v for k, v in vars(args).items()},
            "val_acc": val,
        }
        if val_mean > best["val_mean"]:
            best = {"epoch": epoch, "val_mean": val_mean}
            save(os.path.join(args.out, "best.pt"), payload)
        save(ckpt_path, {**payload, "optimizer": opt.state_dict(), "generator": gen.get_state(), "best": best})
        with open(history_path, "a") as f:
            f.write(json.dumps(record) + "\n")
    return best


def main(argv: List[str] | None = None) -> None:
    args = parse_args(argv)
    best = train(args)
    print(
        f"done: best epoch {best['epoch'] + 1}, mean val acc {100 * best['val_mean']:.2f}%; "
        f"checkpoints in {args.out}",
        file=sys.stderr,
    )
