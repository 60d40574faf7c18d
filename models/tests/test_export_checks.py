"""The exporter's checks: each broken model stops the export with a message naming the stage and tensor."""
import os
import sys

import pytest
import torch
import torch.nn as nn

from multiexit import data as data_mod
from multiexit.errors import ExportError, UsageError
from multiexit.export import export_model, model_from_checkpoint
from multiexit.interface import Stage
from multiexit.msdnet import PRESETS as MSD_PRESETS
from multiexit.msdnet import MSDNet

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))
from three_exit_cnn import ThreeExitCNN  # noqa: E402

needs_data = pytest.mark.skipif(
    not os.path.exists(data_mod.FMNIST_DIR), reason="dataset-fashion-mnist is not installed"
)


@pytest.fixture(scope="module")
def ds():
    return data_mod.load("fmnist", None, 64, 0, limit=64)


def export(model, ds, tmp_path, **kw):
    meta = {"epoch": -1, "args": {}, "dataset": {"source": ds.source}}
    return export_model(model, ds, str(tmp_path / "m"), "m", "1", meta, log=lambda _: None, **kw)


class ReadsUnwritten(ThreeExitCNN):
    def stages(self):
        st = super().stages()
        st[1] = Stage(self, self.stage2, ["h9"], ["logits", "h2"])
        return st


class Recomputes(ThreeExitCNN):
    def stage2(self, h1):  # runs block 1 twice: the FLOPs on the stages exceed the model's count
        self.blocks[1](h1)
        return super().stage2(h1)


class WrongLogits(ThreeExitCNN):
    def stage3(self, h2):
        return super().stage3(h2) * 2


class ReadsItsOwnOutput(ThreeExitCNN):
    def stages(self):
        st = super().stages()
        st[1] = Stage(self, self.stage2, ["h1"], ["logits", "h1"])
        return st


class DiffersInOnnx(ThreeExitCNN):
    """Computes something else while traced for ONNX (as Python-side state or data-dependent
    control flow can): the ONNX graph's logits are off by one."""

    def stage3(self, h2):
        return super().stage3(h2) + (1.0 if torch.onnx.is_in_onnx_export() else 0.0)


@needs_data
@pytest.mark.parametrize(
    "model, message",
    [
        (nn.Linear(2, 2), "does not implement the staging interface"),
        (ReadsUnwritten(), "stage 2 reads tensor 'h9' that no earlier stage writes"),
        (Recomputes(), "stage 2 tensor 'logits': FLOPs counted on the stages"),
        (WrongLogits(), "stage 3 tensor 'logits' differs from the full forward's exit 3"),
        (ReadsItsOwnOutput(), "stage 2 writes tensor 'h1' that it also reads"),
    ],
)
def test_a_broken_model_stops_the_export_naming_stage_and_tensor(ds, tmp_path, model, message):
    with pytest.raises(ExportError, match=message):
        export(model, ds, tmp_path, onnx_check=False)


@needs_data
def test_onnx_that_differs_from_pytorch_stops_the_export(ds, tmp_path):
    with pytest.raises(ExportError, match=r"stage 3 tensor 'logits': ONNX differs from PyTorch"):
        export(DiffersInOnnx(), ds, tmp_path)


def test_a_checkpoint_of_the_wrong_architecture_is_refused(tmp_path):
    ck = {"arch": "msdnet", "config": MSD_PRESETS["tiny"].to_dict(), "model": MSDNet(MSD_PRESETS["tiny"]).state_dict()}
    with pytest.raises(UsageError, match="holds a msdnet model, not ranet"):
        model_from_checkpoint(ck, "ranet", None, "x.pt")
    ck["model"] = {"blocks.0.weight": torch.zeros(1)}
    with pytest.raises(UsageError, match="does not fit MSDNet"):
        model_from_checkpoint(ck, None, None, "x.pt")
