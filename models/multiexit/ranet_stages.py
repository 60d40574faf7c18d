"""RANet split into stages, one per exit: which blocks each stage runs, the tensors it reads and
the ones it hands on (see ranet.py's docstring for their names), and the function that runs one
stage on the model's modules."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, List, Tuple

import torch
import torch.nn as nn

from .interface import INPUT, LOGITS
from .ranet_layers import FusionBlock

if TYPE_CHECKING:
    from .ranet import RANet


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
