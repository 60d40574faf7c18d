"""Data sets read straight from their files: Fashion-MNIST (IDX, Debian's
dataset-fashion-mnist) and CIFAR-10 (the standard python-pickle directory).

Images stay uint8 NCHW in memory; `normalise` and `augment` work on whole batches.
The validation split is a seeded random subset of the TRAINING data, never the test set.
"""
from __future__ import annotations

import gzip
import os
import pickle
from dataclasses import dataclass
from typing import List, Tuple

import numpy as np
import torch
from .errors import UsageError

FMNIST_DIR = "/usr/share/datasets/fashion-mnist"
FMNIST_LABELS = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
CIFAR10_LABELS = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@dataclass
class Dataset:
    name: str
    labels: List[str]
    train_x: np.ndarray  # uint8 [N, C, H, W]
    train_y: np.ndarray  # int64 [N]
    val_x: np.ndarray
    val_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    mean: List[float]  # per channel, of pixel/255 over the training split
    std: List[float]
    crop_padding: int
    hflip: bool
    source: dict
    val_index: np.ndarray  # position of each validation image in the training files


def read_idx(path: str) -> np.ndarray:
    """Reads an IDX file (optionally gzipped): magic 0x0000 dtype ndim, big-endian dims."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: expected {int(np.prod(dims))} values for dims {dims}, " f"found {data.size}")
    return data.reshape(dims)


def _find(root: str, stem: str) -> str:
    for name in (stem + ".gz", stem):
        p = os.path.join(root, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f"{stem}(.gz) not found in {root}")


def load_fmnist(root: str = FMNIST_DIR):
    def images(stem: str) -> np.ndarray:
        return read_idx(_find(root, stem))[:, None, :, :]

    def labels(stem: str) -> np.ndarray:
        return read_idx(_find(root, stem)).astype(np.int64)

    return (
        images("train-images-idx3-ubyte"),
        labels("train-labels-idx1-ubyte"),
        images("t10k-images-idx3-ubyte"),
        labels("t10k-labels-idx1-ubyte"),
    )


def load_cifar10(root: str):
    def batch(name: str):
        with open(os.path.join(root, name), "rb") as f:
            d = pickle.load(f, encoding="bytes")
        return (np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32), np.asarray(d[b"labels"], dtype=np.int64))

    parts = [batch(f"data_batch_{i}") for i in range(1, 6)]
    test_x, test_y = batch("test_batch")
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), test_x, test_y)


def load(name: str, root: str | None, val_size: int, seed: int, limit: int = 0) -> Dataset:
    """`limit` > 0 keeps only that many training and test images (smoke runs)."""
    if name == "fmnist":
        root = root or FMNIST_DIR
        tx, ty, ex, ey = load_fmnist(root)
        labels, pad, flip = FMNIST_LABELS, 2, True
    elif name == "cifar10":
        if not root:
            raise UsageError("--data-dir is required for cifar10 (the cifar-10-batches-py folder)")
        tx, ty, ex, ey = load_cifar10(root)
        labels, pad, flip = CIFAR10_LABELS, 4, True
    else:
        raise UsageError(f"unknown data set {name!r}; expected fmnist or cifar10")
    if val_size >= len(tx):
        raise UsageError(f"--val-size {val_size} leaves no training data ({len(tx)} images)")
    perm = np.random.default_rng(seed).permutation(len(tx))
    val_idx, train_idx = np.sort(perm[:val_size]), np.sort(perm[val_size:])
    if limit:
        train_idx, ex, ey = train_idx[:limit], ex[:limit], ey[:limit]
        val_idx = val_idx[:limit]
    train_x = tx[train_idx]
    pixels = train_x.astype(np.float64) / 255.0
    mean = pixels.mean(axis=(0, 2, 3)).tolist()
    std = pixels.std(axis=(0, 2, 3)).tolist()
    return Dataset(
        name=name,
        labels=labels,
        train_x=train_x,
        train_y=ty[train_idx],
        val_x=tx[val_idx],
        val_y=ty[val_idx],
        test_x=ex,
        test_y=ey,
        mean=mean,
        std=std,
        crop_padding=pad,
        hflip=flip,
        source={
            "dataset": name,
            "root": os.path.abspath(root),
            "train_images": int(len(train_idx)),
            "val_images": int(len(val_idx)),
            "test_images": int(len(ex)),
            "val_split": f"seeded permutation of the training set, seed {seed}, first {val_size}",
        },
        val_index=val_idx,
    )


def synthetic(in_channels: int, in_size: int, num_classes: int, count: int, seed: int = 0) -> Dataset:
    """Random uint8 images and labels of a preset's input shape: only for exporting a model with
    random weights to measure serving speed (its accuracies mean nothing)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(count, in_channels, in_size, in_size), dtype=np.uint8)
    y = rng.integers(0, num_classes, size=count).astype(np.int64)
    pixels = x.astype(np.float64) / 255.0
    labels = CIFAR10_LABELS if num_classes == 10 else [f"class {i}" for i in range(num_classes)]
    return Dataset(
        name="synthetic",
        labels=labels,
        train_x=x,
        train_y=y,
        val_x=x,
        val_y=y,
        test_x=x,
        test_y=y,
        mean=pixels.mean(axis=(0, 2, 3)).tolist(),
        std=pixels.std(axis=(0, 2, 3)).tolist(),
        crop_padding=0,
        hflip=False,
        source={
            "dataset": "synthetic",
            "root": "",
            "train_images": 0,
            "val_images": count,
            "test_images": count,
            "val_split": f"{count} random images (seed {seed}); the model has random weights",
        },
        val_index=np.arange(count),
    )


def normalise(x: torch.Tensor, mean: List[float], std: List[float]) -> torch.Tensor:
    """uint8 NCHW -> float32, (x/255 - mean)/std per channel."""
    m = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
    return (x.float() / 255.0 - m) / s


def augment(x: torch.Tensor, padding: int, hflip: bool, gen: torch.Generator) -> torch.Tensor:
    """Random crop with zero padding and random horizontal flip, on a uint8 batch."""
    n, _, h, w = x.shape
    if padding:
        padded = torch.nn.functional.pad(x, (padding,) * 4)
        dy = torch.randint(0, 2 * padding + 1, (n,), generator=gen)
        dx = torch.randint(0, 2 * padding + 1, (n,), generator=gen)
        rows = dy.view(n, 1) + torch.arange(h).view(1, h)  # [n, h]
        cols = dx.view(n, 1) + torch.arange(w).view(1, w)  # [n, w]
        idx_n = torch.arange(n).view(n, 1, 1)
        x = padded.permute(0, 2, 3, 1)[idx_n, rows.view(n, h, 1), cols.view(n, 1, w)]
        x = x.permute(0, 3, 1, 2).contiguous()
    if hflip:
        flip = torch.rand(n, generator=gen) < 0.5
        x = torch.where(flip.view(n, 1, 1, 1), x.flip(3), x)
    return x


def batches(n: int, batch_size: int, shuffle: bool, gen: torch.Generator) -> List[Tuple[int, torch.Tensor]]:
    order = torch.randperm(n, generator=gen) if shuffle else torch.arange(n)
    return [(i, order[i : i + batch_size]) for i in range(0, n, batch_size)]
