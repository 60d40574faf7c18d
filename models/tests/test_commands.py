"""Smoke runs of the commands (python3 -m multiexit ...), the bring-your-own-model example and the
regression check that the bundled RANet re-exports to the same served model."""
import json
import os
import shutil
import subprocess

import numpy as np
import onnx
import pytest
import torch

from multiexit import data as data_mod
from multiexit import export, train, validate
from multiexit.__main__ import main as cli
from multiexit.archs import create_model, get_arch, list_models, register_model
from multiexit.errors import UsageError

MODELS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUNDLED_RANET = os.path.join(MODELS, "repository", "ranet-fmnist", "1")
EXAMPLE = os.path.join(MODELS, "examples", "three_exit_cnn.py") + ":build"

pytestmark = pytest.mark.skipif(
    not os.path.exists(data_mod.FMNIST_DIR), reason="dataset-fashion-mnist is not installed"
)
needs_node = pytest.mark.skipif(export.find_node_runtime() is None, reason="node and onnxruntime-node (npm ci) needed")


@pytest.mark.parametrize("arch", ["ranet", "msdnet"])
def test_train_dry_run_and_resume(tmp_path, arch):
    out = str(tmp_path / "run")
    train.train(train.parse_args(["--arch", arch, "--dry-run", "--out", out, "--threads", "1"]))
    ck = torch.load(os.path.join(out, "checkpoint.pt"))
    assert ck["arch"] == arch
    args = train.parse_args(["--arch", arch, "--dry-run", "--out", out, "--threads", "1", "--epochs", "2", "--resume"])
    args.epochs = 2
    train.train(args)
    lines = open(os.path.join(out, "history.jsonl")).read().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]
    other = "msdnet" if arch == "ranet" else "ranet"
    with pytest.raises(UsageError, match=f"holds a {arch} model, not {other}"):
        train.train(train.parse_args(["--arch", other, "--dry-run", "--out", out, "--threads", "1", "--resume"]))


@needs_node
@pytest.mark.parametrize("arch", ["ranet", "msdnet"])
def test_export_dry_run_writes_a_consistent_servable_folder(tmp_path, arch):
    out = str(tmp_path / "model")
    cli(["export", "--arch", arch, "--dry-run", "--out", out])
    m = json.load(open(os.path.join(out, "manifest.json")))
    assert m["architecture"] == {"ranet": "RANet", "msdnet": "MSDNet"}[arch]
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
    fused = onnx.load(os.path.join(out, m["fused"]["file"]))
    assert [o.name for o in fused.graph.output] == [f"logits_{k + 1}" for k in range(len(m["stages"]))]
    assert validate.validate(out, run=True) == []


def test_export_random_weights_of_a_preset(tmp_path):
    out = str(tmp_path / "random")
    export.main(
        ["--arch", "msdnet", "--random-weights", "tiny", "--out", out, "--name", "random-tiny", "--no-onnx-check"]
    )
    m = json.load(open(os.path.join(out, "manifest.json")))
    assert m["name"] == "random-tiny" and m["training"]["data"]["dataset"] == "synthetic"
    cal = json.load(open(os.path.join(out, m["calibration"])))
    assert cal["count"] == 256 and len(cal["indices"]) == 256


def test_validate_names_what_is_wrong(tmp_path):
    out = str(tmp_path / "m")
    shutil.copytree(BUNDLED_RANET, out)
    assert validate.validate(out) == []
    path = os.path.join(out, "manifest.json")
    m = json.load(open(path))
    m["stages"][2]["inputs"][0] = "nope"
    m["exits"][3]["flops"] = m["exits"][2]["flops"]
    json.dump(m, open(path, "w"))
    os.remove(os.path.join(out, "stage6.onnx"))
    with open(os.path.join(out, "calibration.bin"), "ab") as f:
        f.write(b"\0\0\0\0")
    problems = "\n".join(validate.validate(out))
    assert "exits[3].flops" in problems
    assert "stage 3 (stage3.onnx): graph inputs" in problems
    assert "stage 6 (stage6.onnx): file is missing" in problems
    assert "calibration.bin: " in problems and "expected" in problems
    m["labels"] = "one"
    json.dump(m, open(path, "w"))
    assert any("labels" in p for p in validate.validate(out))


def test_cli_lists_its_commands(capsys):
    assert cli(["--help"]) == 0
    assert "validate" in capsys.readouterr().err
    assert cli(["no-such-command"]) == 2


def test_library_errors_are_exceptions_and_the_cli_turns_them_into_exit_codes(capsys):
    with pytest.raises(UsageError, match="unknown architecture 'nope'; expected one of msdnet, ranet"):
        get_arch("nope")
    assert not issubclass(UsageError, SystemExit)
    assert cli(["flops", "--arch", "ranet", "--preset", "nope"]) == 2
    assert "error: --preset: ranet has no preset 'nope'" in capsys.readouterr().err


def test_registry_lists_and_creates_models():
    assert list_models() == ["msdnet", "ranet"]
    model = create_model("ranet", preset="tiny")
    assert type(model).__name__ == "RANet" and len(model.stages()) == model.n_exits
    again = create_model("ranet", config=model.config.to_dict())
    assert again.config == model.config
    with pytest.raises(ValueError, match="registered twice"):
        register_model("ranet", object, {})(type("Other", (), {}))


@needs_node
def test_the_example_model_trains_exports_and_validates(tmp_path):
    run, out = str(tmp_path / "run"), str(tmp_path / "three-exit-cnn" / "1")
    assert cli(["train", "--model", EXAMPLE, "--epochs", "1", "--out", run, "--threads", "2"]) == 0
    assert cli(["export", "--model", EXAMPLE, "--checkpoint", os.path.join(run, "best.pt"), "--out", out]) == 0
    m = json.load(open(os.path.join(out, "manifest.json")))
    assert m["architecture"] == "ThreeExitCNN" and len(m["exits"]) == 3
    assert m["exits"][-1]["accuracy"]["val"] > 0.6  # one epoch is enough to learn something
    assert validate.validate(out, run=True) == []


@needs_node
def test_the_bundled_ranet_re_exports_to_the_same_served_model(tmp_path):
    """The committed checkpoint (recovered from the bundled model's ONNX files) re-exported by the
    generic exporter: the same manifest apart from createdAt, and the same logits on the whole
    test set through onnxruntime (within 1e-5)."""
    out = str(tmp_path / "ranet")
    export.main(["--checkpoint", os.path.join(MODELS, "checkpoints", "ranet-fmnist.pt"), "--out", out])
    old, new = (json.load(open(os.path.join(d, "manifest.json"))) for d in (BUNDLED_RANET, out))
    old.pop("createdAt"), new.pop("createdAt")
    assert new == old
    ds = data_mod.load("fmnist", None, 5000, 0)
    x = data_mod.normalise(torch.from_numpy(ds.test_x.copy()), ds.mean, ds.std).numpy().astype("<f4")
    x.tofile(os.path.join(tmp_path, "in.bin"))
    logits = []
    for d in (BUNDLED_RANET, out):
        dst = os.path.join(tmp_path, f"{len(logits)}.bin")
        script = os.path.join(MODELS, "multiexit", "ort_chain.mjs")
        subprocess.run(["node", script, d, os.path.join(tmp_path, "in.bin"), str(len(x)), dst], check=True)
        logits.append(np.fromfile(dst, "<f4"))
    assert logits[0].size == len(x) * 6 * 10
    assert np.abs(logits[0] - logits[1]).max() <= 1e-5
    fixtures = [json.load(open(os.path.join(d, "fixtures", "parity.json")))["images"] for d in (BUNDLED_RANET, out)]
    assert [f["label"] for f in fixtures[0]] == [f["label"] for f in fixtures[1]]
    assert (
        max(abs(a - b) for f, g in zip(*fixtures) for la, lb in zip(f["logits"], g["logits"]) for a, b in zip(la, lb))
        <= 1e-4
    )


def test_evaluate_reports_every_exit_and_a_budgeted_curve(tmp_path, capsys):
    run = str(tmp_path / "run")
    train.train(train.parse_args(["--arch", "msdnet", "--dry-run", "--out", run, "--threads", "1"]))
    out = str(tmp_path / "eval.json")
    cli(["evaluate", "--checkpoint", os.path.join(run, "best.pt"), "--json", out])
    figures = json.load(open(out))
    assert len(figures["flops"]) == len(figures["val"]) == len(figures["test"]) == 3
    assert [p for p, _, _ in figures["budgeted"]][:2] == [0.05, 0.1]
    # every point's mean cost lies between the first and the last exit's
    assert all(figures["flops"][0] <= f <= figures["flops"][-1] for _, f, _ in figures["budgeted"])
    assert "MSDNet" in capsys.readouterr().out


@needs_node
def test_parity_fixtures_are_what_the_onnx_stages_compute(tmp_path):
    """The fixtures' logits (PyTorch) equal the exported stages' (onnxruntime) on the fixture inputs."""
    out = str(tmp_path / "m")
    cli(["export", "--arch", "msdnet", "--dry-run", "--out", out])
    fixtures = json.load(open(os.path.join(out, "fixtures", "parity.json")))["images"]
    x = np.array([f["input"] for f in fixtures], dtype="<f4")
    x.tofile(os.path.join(tmp_path, "in.bin"))
    script = os.path.join(MODELS, "multiexit", "ort_chain.mjs")
    dst = os.path.join(tmp_path, "out.bin")
    subprocess.run(["node", script, out, os.path.join(tmp_path, "in.bin"), str(len(x)), dst], check=True)
    got = np.fromfile(dst, "<f4").reshape(len(x), 3, 10)
    want = np.array([f["logits"] for f in fixtures], dtype=np.float32)
    assert np.abs(got - want).max() <= 1e-4


def test_the_package_installs_offline_with_debians_python(tmp_path):
    """As pyproject.toml says: a venv over Debian's site packages, an editable install without build isolation."""
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", str(venv)], check=True)
    models = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    pip = [str(venv / "bin" / "pip"), "install", "-q", "--no-index", "--no-build-isolation", "--no-deps", "-e", models]
    installed = subprocess.run(pip, capture_output=True, text=True, cwd=str(tmp_path))
    assert installed.returncode == 0, installed.stderr
    listed = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "from multiexit.archs import list_models; print(list_models())"],
        capture_output=True,
        text=True,
        cwd=str(tmp_path),
    )
    assert listed.stdout.strip() == "['msdnet', 'ranet']", listed.stderr
    helped = subprocess.run([str(venv / "bin" / "multiexit"), "--help"], capture_output=True, text=True)
    assert helped.returncode == 0 and "validate" in helped.stderr
