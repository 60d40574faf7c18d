"""RANet hyper-parameters and named presets.

Every field of the reference implementation (yangle15/RANet-pytorch) is here, plus the
input geometry, the number of classes and the width of the exit heads. Lists are ordered
from the LOWEST resolution flow (index 0) to the highest, as in the reference.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import List


@dataclass(frozen=True)
class RANetConfig:
    n_blocks: int = 2  # blocks of the first (lowest-resolution) flow; flow i has n_blocks + i*block_step
    block_step: int = 2
    step: int = 4  # dense layers per block (stepmode even) or the increment (stepmode lg)
    stepmode: str = "even"  # 'even' or 'lg'
    scale_list: List[int] = field(default_factory=lambda: [1, 2, 3, 3])  # 1 = lowest resolution
    gr_factor: List[int] = field(default_factory=lambda: [4, 2, 1, 1])
    bn_factor: List[int] = field(default_factory=lambda: [4, 2, 1, 1])
    n_channels: int = 16
    growth_rate: int = 6
    reduction: float = 0.5
    compress_factor: float = 0.25
    head_channels: int = 128  # the two 3x3 convs of every exit head
    in_channels: int = 3
    in_size: int = 32
    num_classes: int = 10

    def __post_init__(self) -> None:
        n = len(self.scale_list)
        if n < 1:
            raise ValueError("scale_list must name at least one flow")
        if len(self.gr_factor) != n or len(self.bn_factor) != n:
            raise ValueError(
                f"gr_factor ({len(self.gr_factor)}) and bn_factor ({len(self.bn_factor)}) "
                f"need one entry per flow ({n})"
            )
        if list(self.scale_list) != sorted(self.scale_list) or self.scale_list[0] != 1:
            raise ValueError(f"scale_list must start at 1 and never decrease, got {self.scale_list}")
        if self.stepmode not in ("even", "lg"):
            raise ValueError(f"stepmode must be 'even' or 'lg', got {self.stepmode!r}")
        for name in (
            "n_blocks",
            "step",
            "n_channels",
            "growth_rate",
            "head_channels",
            "in_channels",
            "in_size",
            "num_classes",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for i in range(1, n):
            if int(self.growth_rate * self.gr_factor[i] * self.compress_factor) < 1:
                raise ValueError(
                    f"flow {i}: growth_rate*gr_factor*compress_factor must give >= 1 fused "
                    f"channel, got {self.growth_rate}*{self.gr_factor[i]}*{self.compress_factor}"
                )
        if self.block_step < 0:
            raise ValueError(f"block_step must be >= 0, got {self.block_step}")

    @property
    def n_flows(self) -> int:
        return len(self.scale_list)

    def blocks_per_flow(self) -> List[int]:
        return [self.n_blocks + i * self.block_step for i in range(self.n_flows)]

    @property
    def n_exits(self) -> int:
        return self.blocks_per_flow()[-1]

    def layers_in_block(self, block: int) -> int:
        """Dense layers of 0-based block `block` (the same in every flow, so fusion layers line up)."""
        return self.step if self.stepmode == "even" else (block + 1) * self.step

    @property
    def lowest_resolution(self) -> int:
        """Side of the lowest-resolution stem, where every flow ends (3x3 stride-2 convs)."""
        r = self.in_size
        for _ in range(self.scale_list[-1] - 1):
            r = (r + 1) // 2
        return r

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @staticmethod
    def from_dict(d: dict) -> "RANetConfig":
        return RANetConfig(**d)


PRESETS = {
    # The paper's CIFAR-10 model (reference: 94.9 MMACs at the last exit, 3.26M parameters).
    "paper-cifar10": RANetConfig(),
    # The bundled Fashion-MNIST model: a width-reduced 3-flow RANet (28, 14, 7 pixels), 6 exits.
    "fmnist": RANetConfig(
        n_blocks=2,
        block_step=2,
        step=2,
        stepmode="even",
        scale_list=[1, 2, 3],
        gr_factor=[4, 2, 1],
        bn_factor=[4, 2, 1],
        n_channels=12,
        growth_rate=6,
        head_channels=48,
        in_channels=1,
        in_size=28,
        num_classes=10,
    ),
    # A tiny model for smoke tests (--dry-run) and unit tests.
    "tiny": RANetConfig(
        n_blocks=1,
        block_step=1,
        step=1,
        stepmode="even",
        scale_list=[1, 2, 3],
        gr_factor=[2, 1, 1],
        bn_factor=[2, 1, 1],
        n_channels=4,
        growth_rate=4,
        head_channels=8,
        in_channels=1,
        in_size=28,
        num_classes=10,
    ),
}


def preset(name: str) -> RANetConfig:
    if name not in PRESETS:
        raise SystemExit(f"unknown preset {name!r}; expected one of {', '.join(PRESETS)}")
    return PRESETS[name]


def describe(cfg: RANetConfig) -> str:
    return json.dumps(cfg.to_dict(), sort_keys=True)
