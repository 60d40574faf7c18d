"""The architectures the commands know, by the name `--arch` takes."""
from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Dict

from . import msdnet, ranet
from .interface import MultiExitModel


@dataclass(frozen=True)
class Arch:
    name: str
    config_class: Any  # dataclass with to_dict / from_dict
    model_class: Callable[[Any], MultiExitModel]
    presets: Dict[str, Any]

    def preset(self, name: str) -> Any:
        if name not in self.presets:
            raise SystemExit(f"--preset: {self.name} has no preset {name!r}; expected one of {', '.join(self.presets)}")
        return self.presets[name]

    def build(self, config_dict: dict) -> MultiExitModel:
        try:
            cfg = self.config_class.from_dict(config_dict)
        except TypeError as e:
            raise SystemExit(f"config does not fit {self.name}: {e}")
        return self.model_class(cfg)


ARCHS: Dict[str, Arch] = {
    "ranet": Arch("ranet", ranet.RANetConfig, ranet.RANet, ranet.PRESETS),
    "msdnet": Arch("msdnet", msdnet.MSDNetConfig, msdnet.MSDNet, msdnet.PRESETS),
}


def get_arch(name: str) -> Arch:
    if name not in ARCHS:
        raise SystemExit(f"--arch: unknown architecture {name!r}; expected one of {', '.join(ARCHS)}")
    return ARCHS[name]


def load_callable(spec: str):
    """FILE.py:NAME -> the object NAME defined in FILE.py."""
    path, _, attr = spec.rpartition(":")
    if not path or not attr:
        raise SystemExit(f"--model: expected FILE.py:CALLABLE, got {spec!r}")
    if not os.path.exists(path):
        raise SystemExit(f"--model: no file {path}")
    module_spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_spec.name] = module
    module_spec.loader.exec_module(module)
    if not hasattr(module, attr):
        raise SystemExit(f"--model: {path} defines no {attr!r}")
    return getattr(module, attr)
