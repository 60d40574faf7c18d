"""Smoke runs of the command-line tools (the same ones .ci/run exercises)."""
import json
import os

import numpy as np
import onnx
import pytest

import export
import train

pytestmark = pytest.mark.skipif(
    not os.path.exists(train.data_mod.FMNIST_DIR), reason="dataset-fashion-mnist is not installed"
)


def test_train_dry_run_and_resume(tmp_path):
    out = str(tmp_path / "run")
    train.train(train.parse_args(["--dry-run", "--out", out, "--threads", "1"]))
    assert os.path.exists(os.path.join(out, "checkpoint.pt"))
    args = train.parse_args(["--dry-run", "--out", out, "--threads", "1", "--epochs", "2", "--resume"])
    args.epochs = 2
    train.train(args)
    lines = open(os.path.join(out, "history.jsonl")).read().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]


def test_export_dry_run_writes_a_consistent_manifest(tmp_path):
    out = str(tmp_path / "model")
    export.main(["--dry-run", "--out", out])
    m = json.load(open(os.path.join(out, "manifest.json")))
    assert m["input"]["name"] == "image" and len(m["input"]["shape"]) == 3
    produced = {"image"}
    for st in m["stages"]:
        graph = onnx.load(os.path.join(out, st["file"])).graph
        assert [i.name for i in graph.input] == st["inputs"]
        assert [o.name for o in graph.output] == st["outputs"]
        assert set(st["inputs"]) <= produced
        produced |= set(st["outputs"])
        assert graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    flops = [e["flops"] for e in m["exits"]]
    assert flops == sorted(flops) and len(flops) == len(m["stages"])
    # the fused graph: the model input in, every exit's logits out, nodes of every stage
    fused = onnx.load(os.path.join(out, m["fused"]["file"]))
    onnx.checker.check_model(fused)
    assert [i.name for i in fused.graph.input] == ["image"]
    assert [o.name for o in fused.graph.output] == [f"logits_{k + 1}" for k in range(len(m["stages"]))]
    stage_nodes = sum(len(onnx.load(os.path.join(out, st["file"])).graph.node) for st in m["stages"])
    assert len(fused.graph.node) == stage_nodes
    for name in (m["calibration"], m["evaluation"]):  # validation and test splits
        cal = json.load(open(os.path.join(out, name)))
        logits = np.fromfile(os.path.join(out, cal["file"]), dtype="<f4")
        assert (
            logits.size
            == cal["count"] * cal["exits"] * cal["classes"]
            == len(cal["labels"]) * cal["exits"] * cal["classes"]
        )


def test_export_random_weights_of_a_preset(tmp_path):
    # a model of a preset's size with seeded random weights, for serving benchmarks
    out = str(tmp_path / "random")
    export.main(["--random-weights", "tiny", "--out", out, "--name", "random-tiny"])
    m = json.load(open(os.path.join(out, "manifest.json")))
    assert m["name"] == "random-tiny" and m["training"]["data"]["dataset"] == "synthetic"
    assert m["input"]["shape"] == [1, 28, 28] and len(m["exits"]) == len(m["stages"])
    cal = json.load(open(os.path.join(out, m["calibration"])))
    assert cal["count"] == 256 and len(cal["indices"]) == 256
