import dataclasses

import pytest
import torch

from multiexit.export import check_flops, check_stages, run_stages
from multiexit.flops import cumulative_exit_flops
from multiexit.interface import count_parameters
from multiexit.msdnet import PRESETS, MSDNet, MSDNetConfig, layer_scales
from multiexit.ranet import PRESETS as RANET_PRESETS
from multiexit.ranet import RANet

# kalviny/MSDNet-PyTorch check_msdnet/log.txt prints the CIFAR-10 model built with --nBlocks 10
# --step 2 --base 4 --stepmode even --nChannels 16 (growthRate 6, grFactor/bnFactor 1-2-4,
# prune max, reduction 0.5, bottleneck) and ends "# of params: 4839544"; its last three
# classifiers read 188, 236 and 284 channels.
REFERENCE_LOG_PARAMETERS = 4839544


def test_reference_cifar_model_has_the_reference_parameter_count_and_classifier_widths():
    model = MSDNet(PRESETS["cifar10-log"])
    assert count_parameters(model) == REFERENCE_LOG_PARAMETERS
    widths = [c.features[0][0].in_channels for c in model.classifiers]
    assert widths[-3:] == [188, 236, 284]


def test_prune_max_drops_one_scale_at_a_time_and_keeps_the_coarsest():
    cfg = PRESETS["cifar10-log"]
    n_all = sum(cfg.block_layers())
    scales = [layer_scales(cfg, layer, n_all) for layer in range(1, n_all + 1)]
    assert scales[0] == (3, 3) and scales[-1][1] == 1
    assert all(i - o in (0, 1) for i, o in scales)


@pytest.mark.parametrize("name", list(PRESETS))
def test_staged_forward_equals_the_full_forward(name):
    cfg = PRESETS[name]
    torch.manual_seed(0)
    model = MSDNet(cfg).eval()
    x = torch.randn(2, cfg.in_channels, cfg.in_size, cfg.in_size)
    with torch.no_grad():
        full = model(x)
    staged = [rec["out:logits"] for rec in run_stages(model.stages(), x)]
    assert len(full) == len(staged) == cfg.n_blocks
    for a, b in zip(full, staged):
        assert a.shape == (2, cfg.num_classes)
        assert torch.allclose(a, b, atol=1e-6)
    checks = check_stages(model, model.stages())
    assert checks[-1].outputs == ["logits"]


def test_fmnist_preset_costs_as_the_issue_asks():
    # last exit within 10% of the bundled RANet's last exit, first exit at most 30% of the last
    msd = cumulative_exit_flops(MSDNet(PRESETS["fmnist"]))
    ranet = cumulative_exit_flops(RANet(RANET_PRESETS["fmnist"]))
    assert abs(msd[-1] - ranet[-1]) <= 0.10 * ranet[-1]
    assert msd[0] <= 0.30 * msd[-1]
    assert all(a < b for a, b in zip(msd, msd[1:]))
    model = MSDNet(PRESETS["fmnist"])
    assert check_flops(model, model.stages()) == msd


def test_lin_grow_and_prune_min_build_and_stage():
    cfg = dataclasses.replace(PRESETS["tiny"], stepmode="lin_grow", step=1, prune="min", n_blocks=3)
    assert cfg.block_layers() == [1, 2, 3]
    model = MSDNet(cfg).eval()
    x = torch.randn(1, 1, 28, 28)
    with torch.no_grad():
        full = model(x)
    staged = [rec["out:logits"] for rec in run_stages(model.stages(), x)]
    for a, b in zip(full, staged):
        assert torch.allclose(a, b, atol=1e-6)


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="one entry per scale"):
        MSDNetConfig(gr_factor=[1, 2, 4], bn_factor=[1, 2])
    with pytest.raises(ValueError, match="stepmode"):
        MSDNetConfig(stepmode="odd")
    with pytest.raises(ValueError, match="prune"):
        MSDNetConfig(prune="mid")


def test_flops_counter_restores_training_mode():
    model = MSDNet(PRESETS["tiny"])
    model.train()
    cumulative_exit_flops(model)
    assert model.training
