import dataclasses

import pytest
import torch

from multiexit import data as data_mod
from multiexit.export import run_stages
from multiexit.flops import cumulative_exit_flops, staged_exit_flops
from multiexit.interface import count_parameters
from multiexit.ranet import PRESETS, RANet, RANetConfig
from multiexit.ranet_layers import downsampling_blocks, transition_after
from multiexit.ranet_stages import plan_stages


def preset(name):
    return PRESETS[name]


def run_staged(model, x):
    return [rec["out:logits"] for rec in run_stages(model.stages(), x)]


PAPER_MMACS = [15.8, 31.3, 44.7, 50.4, 60.7, 63.7, 90.2, 94.9]


def test_paper_cifar10_flops_match_the_paper_within_2_percent():
    model = RANet(preset("paper-cifar10"))
    mmacs = [f / 1e6 for f in cumulative_exit_flops(model)]
    assert len(mmacs) == 8
    for got, want in zip(mmacs, PAPER_MMACS):
        assert abs(got - want) / want < 0.02, (got, want)
    assert abs(count_parameters(model) - 3.26e6) / 3.26e6 < 0.01


def test_flops_counter_restores_training_mode():
    model = RANet(preset("tiny"))
    model.train()
    cumulative_exit_flops(model)
    assert model.training


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_exit_returns_logits_of_the_right_shape(name):
    cfg = preset(name)
    model = RANet(cfg).eval()
    out = model(torch.randn(2, cfg.in_channels, cfg.in_size, cfg.in_size))
    assert len(out) == cfg.n_exits == model.n_exits
    assert all(o.shape == (2, cfg.num_classes) for o in out)


def test_flops_increase_and_the_first_exit_is_cheap_for_the_default_model():
    flops = cumulative_exit_flops(RANet(preset("fmnist")))
    assert all(a < b for a, b in zip(flops, flops[1:]))
    assert flops[0] <= 0.25 * flops[-1]
    assert len(flops) >= 4


def test_stepmode_lg_grows_layers_per_block():
    cfg = dataclasses.replace(preset("tiny"), stepmode="lg", step=1)
    model = RANet(cfg)
    assert [len(b.layers) for b in model.flows[-1]] == [1, 2, 3]
    assert len(model(torch.randn(1, 1, 28, 28))) == cfg.n_exits


def test_reference_schedule_rules():
    # paper config: flow 3 (scale 3) down-samples at blocks 4 and 6; scale 1 never does
    assert downsampling_blocks([2, 4, 6, 8], 3, 3) == [4, 6]
    assert downsampling_blocks([2, 4, 6, 8], 1, 2) == [2]
    assert downsampling_blocks([2, 4, 6, 8], 1, 1) == []
    # transitions after block floor(k*n/scale)
    assert [b for b in range(1, 9) if transition_after(b, 8, 3)] == [2, 5]
    assert [b for b in range(1, 5) if transition_after(b, 4, 1)] == []


def test_config_rejects_inconsistent_lists():
    with pytest.raises(ValueError, match="one entry per flow"):
        RANetConfig(scale_list=[1, 2], gr_factor=[4, 2, 1], bn_factor=[4, 2])
    with pytest.raises(ValueError, match="stepmode"):
        RANetConfig(stepmode="odd")


@pytest.mark.parametrize("name", ["tiny", "fmnist", "paper-cifar10"])
def test_staged_forward_equals_unstaged(name):
    cfg = preset(name)
    torch.manual_seed(0)
    model = RANet(cfg).eval()
    x = torch.randn(3, cfg.in_channels, cfg.in_size, cfg.in_size)
    with torch.no_grad():
        full = model(x)
        staged = run_staged(model, x)
    assert len(full) == len(staged)
    for a, b in zip(full, staged):
        assert torch.allclose(a, b, atol=1e-6)


def test_stage_plan_feeds_every_input_from_an_earlier_output():
    model = RANet(preset("paper-cifar10"))
    plans = plan_stages(model)
    available = {"image"}
    for p in plans:
        assert set(p.inputs) <= available, (p.index, set(p.inputs) - available)
        assert p.outputs[0] == "logits"
        available |= set(p.outputs)
    assert plans[-1].outputs == ["logits"]  # nothing is carried past the last stage


def test_idx_reader_and_augment(tmp_path):
    import gzip

    raw = bytes([0, 0, 8, 3]) + (2).to_bytes(4, "big") + (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
    raw += bytes(range(12))
    p = tmp_path / "x-idx3-ubyte.gz"
    p.write_bytes(gzip.compress(raw))
    arr = data_mod.read_idx(str(p))
    assert arr.shape == (2, 2, 3) and arr[1, 1, 2] == 11
    p.write_bytes(gzip.compress(raw[:-1]))
    with pytest.raises(ValueError, match="expected 12 values"):
        data_mod.read_idx(str(p))
    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.uint8).view(2, 1, 4, 4)
    y = data_mod.augment(x, 1, True, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and y.dtype == torch.uint8


def test_staged_flops_equal_the_full_forward():
    model = RANet(preset("fmnist"))
    assert staged_exit_flops(model, model.stages()) == cumulative_exit_flops(model)
