"""RANet (Yang et al., "Resolution Adaptive Networks for Efficient Inference", CVPR 2020)
following the reference implementation's structure (yangle15/RANet-pytorch), its config
dataclass and presets, and its split into one stage per exit.

Flows run from the lowest resolution (flow 0) to the highest; lists in the config are ordered
from the LOWEST resolution flow (index 0) to the highest, as in the reference. Flow i has
n_blocks + i*block_step blocks: the first n_{i-1} are fusion blocks that read the dense
features of flow i-1, the rest are plain dense blocks, each followed by an exit head.

Stage k runs the blocks between exit k-1 and exit k and returns exit k's `logits` plus every
tensor a later stage reads. Nothing is recomputed across stages. Carried tensors:
  stem{f}         the first-layer features of flow f (all stems are computed in stage 1)
  f{f}_x          flow f's running features (block output after any transition)
  f{f}_b{b}       block b of flow f: its last same-resolution dense tensor. Inside a dense
                  block every feature-list entry (block input, layer outputs) is a channel
                  prefix of the next, so one tensor holds them all.
  f{f}_b{b}_last  the strided last layer's output of a down-sampling block
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .interface import INPUT, LOGITS, MultiExitModel, Stage, reference_init


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


PRESETS: Dict[str, RANetConfig] = {
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


def resize(x: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=True)


class ConvBNReLU(nn.Sequential):
    def __init__(self, n_in: int, n_out: int, kernel: int, stride: int = 1):
        super().__init__(
            nn.Conv2d(n_in, n_out, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(n_out),
            nn.ReLU(inplace=True),
        )


class BottleneckConv(nn.Sequential):
    """1x1 bottleneck (width min(n_in, bn_factor*n_out)) then a 3x3 conv, both BN+ReLU."""

    def __init__(self, n_in: int, n_out: int, bn_factor: int, stride: int = 1):
        inner = min(n_in, bn_factor * n_out)
        super().__init__(ConvBNReLU(n_in, inner, 1), ConvBNReLU(inner, n_out, 3, stride))


class DenseLayer(nn.Module):
    """Plain dense layer: concat(x, conv(x)) with `growth` new channels."""

    def __init__(self, n_in: int, growth: int, bn_factor: int):
        super().__init__()
        self.conv = BottleneckConv(n_in, growth, bn_factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.conv(x)], dim=1)


class FusionLayer(nn.Module):
    """Dense layer that also reads the coarser flow:
    concat(resize(x), resize(conv_up(coarse)), conv_own(x)), growth channels added."""

    def __init__(
        self, n_in: int, n_in_coarse: int, growth: int, bn_own: int, bn_coarse: int, compress_factor: float, down: bool
    ):
        super().__init__()
        n_up = math.floor(growth * compress_factor)
        self.conv_up = BottleneckConv(n_in_coarse, n_up, bn_coarse)
        self.conv_own = BottleneckConv(n_in, growth - n_up, bn_own, stride=2 if down else 1)

    def forward(self, coarse: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        own = self.conv_own(x)
        size = (own.shape[2], own.shape[3])
        return torch.cat([resize(x, size), resize(self.conv_up(coarse), size), own], dim=1)


class DenseBlock(nn.Module):
    """Plain block. Returns (output after the optional transition, [input, layer outputs...])."""

    kind = "dense"

    def __init__(self, n_layers: int, n_in: int, growth: int, bn_factor: int, trans: bool, reduction: float):
        super().__init__()
        self.layers = nn.ModuleList(DenseLayer(n_in + j * growth, growth, bn_factor) for j in range(n_layers))
        n_out = n_in + n_layers * growth
        self.list_channels = [n_in + j * growth for j in range(n_layers + 1)]
        self.strided_last = False
        self.trans = ConvBNReLU(n_out, math.floor(reduction * n_out), 1) if trans else None
        self.n_out = math.floor(reduction * n_out) if trans else n_out

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        feats = [x]
        for layer in self.layers:
            x = layer(x)
            feats.append(x)
        if self.trans is not None:
            x = self.trans(x)
        return x, feats


class FusionBlock(nn.Module):
    """Fusion block: layer j reads entry j of the coarser block's feature list; at the end a
    1x1 conv of the coarser block's last output adds floor(compress*C) channels."""

    kind = "fusion"

    def __init__(
        self,
        n_layers: int,
        n_in: int,
        coarse_channels: List[int],
        growth: int,
        bn_own: int,
        bn_coarse: int,
        compress_factor: float,
        trans: bool,
        reduction: float,
        down: bool,
    ):
        super().__init__()
        self.layers = nn.ModuleList(
            FusionLayer(
                n_in + j * growth,
                coarse_channels[j],
                growth,
                bn_own,
                bn_coarse,
                compress_factor,
                down=down and j == n_layers - 1,
            )
            for j in range(n_layers)
        )
        n_out = n_in + n_layers * growth
        self.list_channels = [n_in + j * growth for j in range(n_layers + 1)]
        self.strided_last = down
        n_last = math.floor(n_out * compress_factor)
        self.conv_last = ConvBNReLU(coarse_channels[n_layers], n_last, 1)
        n_out += n_last
        self.trans = ConvBNReLU(n_out, math.floor(reduction * n_out), 1) if trans else None
        self.n_out = math.floor(reduction * n_out) if trans else n_out

    def forward(self, x: torch.Tensor, coarse: List[torch.Tensor]) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        feats = [x]
        for j, layer in enumerate(self.layers):
            x = layer(coarse[j], x)
            feats.append(x)
        size = (x.shape[2], x.shape[3])
        x = torch.cat([x, resize(self.conv_last(coarse[len(self.layers)]), size)], dim=1)
        if self.trans is not None:
            x = self.trans(x)
        return x, feats


class ExitHead(nn.Module):
    """conv3x3 s2, conv3x3 s2, global AvgPool, Linear: the reference CIFAR head, whose
    AvgPool(2) is global for the 7x7 and 8x8 feature maps the flows end at."""

    def __init__(self, n_in: int, width: int, num_classes: int, resolution: int):
        super().__init__()
        pooled = ((resolution + 1) // 2 + 1) // 2
        self.features = nn.Sequential(
            ConvBNReLU(n_in, width, 3, stride=2),
            ConvBNReLU(width, width, 3, stride=2),
            nn.AvgPool2d(pooled),
        )
        self.linear = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(torch.flatten(self.features(x), 1))


class Stems(nn.Module):
    """Multi-resolution first layer: built finest first, returned lowest resolution first."""

    def __init__(self, cfg: RANetConfig):
        super().__init__()
        scales = list(reversed(cfg.scale_list))
        grs = list(reversed(cfg.gr_factor))
        self.convs = nn.ModuleList()
        n_in = cfg.in_channels
        for i, (scale, gr) in enumerate(zip(scales, grs)):
            stride = 1 if i == 0 or scale == scales[i - 1] else 2
            self.convs.append(ConvBNReLU(n_in, cfg.n_channels * gr, 3, stride))
            n_in = cfg.n_channels * gr

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        out = []
        for conv in self.convs:
            x = conv(x)
            out.append(x)
        return out[::-1]


def transition_after(block: int, n_blocks: int, scale: int) -> bool:
    """1-based `block` of a flow with `n_blocks` blocks at `scale` ends with a transition."""
    return any(block == math.floor(k * n_blocks / scale) for k in range(1, scale))


def downsampling_blocks(blocks_per_flow: List[int], flow: int, scale: int) -> List[int]:
    """1-based fusion blocks of `flow` that halve the resolution: the last scale-1 block counts
    of the earlier flows (none for scale 1)."""
    if scale <= 1:
        return []
    return blocks_per_flow[:flow][-(scale - 1) :]


class RANet(MultiExitModel):
    arch = "ranet"

    def __init__(self, cfg: RANetConfig):
        super().__init__()
        self.config = cfg
        self.cfg = cfg
        self.stems = Stems(cfg)
        self.flows = nn.ModuleList()
        self.heads = nn.ModuleList()
        counts = cfg.blocks_per_flow()
        # (flow, block) of every exit, in order
        self.exit_positions: List[Tuple[int, int]] = []
        coarse_lists: List[List[int]] = []
        for f in range(cfg.n_flows):
            n_prev = counts[f - 1] if f > 0 else 0
            growth = cfg.growth_rate * cfg.gr_factor[f]
            n_in = cfg.n_channels * cfg.gr_factor[f]
            down_at = downsampling_blocks(counts, f, cfg.scale_list[f])
            flow = nn.ModuleList()
            lists: List[List[int]] = []
            for b in range(counts[f]):
                trans = transition_after(b + 1, counts[f], cfg.scale_list[f])
                n_layers = cfg.layers_in_block(b)
                if b < n_prev:
                    block = FusionBlock(
                        n_layers,
                        n_in,
                        coarse_lists[b],
                        growth,
                        cfg.bn_factor[f],
                        cfg.bn_factor[f - 1],
                        cfg.compress_factor,
                        trans,
                        cfg.reduction,
                        down=(b + 1) in down_at,
                    )
                else:
                    block = DenseBlock(n_layers, n_in, growth, cfg.bn_factor[f], trans, cfg.reduction)
                flow.append(block)
                lists.append(block.list_channels)
                n_in = block.n_out
                if b >= n_prev:
                    self.heads.append(ExitHead(n_in, cfg.head_channels, cfg.num_classes, cfg.lowest_resolution))
                    self.exit_positions.append((f, b))
            coarse_lists = lists
            self.flows.append(flow)
        reference_init(self)

    def exit_heads(self) -> List[nn.Module]:
        return list(self.heads)

    def stages(self) -> List[Stage]:
        return [Stage(self, StageFn(self, p), p.inputs, p.outputs) for p in plan_stages(self)]

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        stems = self.stems(x)
        logits: List[torch.Tensor] = []
        coarse: List[List[torch.Tensor]] = []
        for f, flow in enumerate(self.flows):
            h = stems[f]
            lists: List[List[torch.Tensor]] = []
            for b, block in enumerate(flow):
                if block.kind == "fusion":
                    h, feats = block(h, coarse[b])
                else:
                    h, feats = block(h)
                lists.append(feats)
                if block.kind == "dense":
                    logits.append(self.heads[len(logits)](h))
            coarse = lists
        return logits


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


Op = Tuple  # ("stems",) | ("block", flow, block) | ("exit", exit_index, flow)


def block_tensor_names(f: int, b: int, block: nn.Module) -> List[str]:
    names = [f"f{f}_b{b}"]
    if block.strided_last:
        names.append(f"f{f}_b{b}_last")
    return names


@dataclass
class StagePlan:
    index: int
    ops: List[Op]
    inputs: List[str] = field(default_factory=list)
    outputs: List[str] = field(default_factory=list)  # 'logits' first


def op_io(model: RANet, op: Op) -> Tuple[List[str], List[str]]:
    if op[0] == "stems":
        return [INPUT], [f"stem{f}" for f in range(model.cfg.n_flows)]
    if op[0] == "exit":
        return [f"f{op[2]}_x"], [LOGITS]
    _, f, b = op
    block = model.flows[f][b]
    reads = [f"stem{f}" if b == 0 else f"f{f}_x"]
    if isinstance(block, FusionBlock):
        reads += block_tensor_names(f - 1, b, model.flows[f - 1][b])
    return reads, [f"f{f}_x"] + block_tensor_names(f, b, block)


def plan_stages(model: RANet) -> List[StagePlan]:
    stages: List[StagePlan] = []
    ops: List[Op] = [("stems",)]
    for f, flow in enumerate(model.flows):
        for b, block in enumerate(flow):
            ops.append(("block", f, b))
            if not isinstance(block, FusionBlock):
                ops.append(("exit", len(stages), f))
                stages.append(StagePlan(len(stages), ops))
                ops = []
    # inputs: read before written inside the stage; outputs: written here and read by a
    # later stage before any other stage rewrites them
    written_in: List[set] = []
    for st in stages:
        written: set = set()
        for op in st.ops:
            reads, writes = op_io(model, op)
            for r in reads:
                if r not in written and r not in st.inputs:
                    st.inputs.append(r)
            written.update(writes)
        written_in.append(written)
    for k, st in enumerate(stages):
        for name in st.inputs:
            if name == INPUT:
                continue
            producer = next(j for j in range(k - 1, -1, -1) if name in written_in[j])
            if name not in stages[producer].outputs:
                stages[producer].outputs.append(name)
    for st in stages:
        st.outputs = [LOGITS] + sorted(st.outputs)
    return stages


class StageFn:
    """Runs one StagePlan on the modules of `model`: (*inputs) -> outputs."""

    def __init__(self, model: RANet, plan: StagePlan):
        self.model = model
        self.plan = plan

    def __call__(self, *inputs: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        m = self.model
        env: Dict[str, torch.Tensor] = dict(zip(self.plan.inputs, inputs))
        for op in self.plan.ops:
            if op[0] == "stems":
                for f, t in enumerate(m.stems(env[INPUT])):
                    env[f"stem{f}"] = t
            elif op[0] == "exit":
                env[LOGITS] = m.heads[op[1]](env[f"f{op[2]}_x"])
            else:
                _, f, b = op
                block = m.flows[f][b]
                x = env[f"stem{f}" if b == 0 else f"f{f}_x"]
                if isinstance(block, FusionBlock):
                    x, feats = block(x, self.coarse_list(f - 1, b, env))
                else:
                    x, feats = block(x)
                env[f"f{f}_x"] = x
                names = block_tensor_names(f, b, block)
                env[names[0]] = feats[-2] if block.strided_last else feats[-1]
                if block.strided_last:
                    env[names[1]] = feats[-1]
        return tuple(env[name] for name in self.plan.outputs)

    def coarse_list(self, f: int, b: int, env: Dict[str, torch.Tensor]) -> List[torch.Tensor]:
        """Rebuilds block b of flow f's feature list from its stored tensors (channel slices)."""
        block = self.model.flows[f][b]
        names = block_tensor_names(f, b, block)
        prefix = env[names[0]]
        chans = block.list_channels
        n_prefix = len(chans) - 1 if block.strided_last else len(chans)
        out = [prefix if c == prefix.shape[1] else prefix[:, :c] for c in chans[:n_prefix]]
        if block.strided_last:
            out.append(env[names[1]])
        return out
