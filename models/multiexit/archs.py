"""The architecture registry, as timm's: each architecture module registers its model class with
`@register_model`, and the commands build models by name with `create_model`.

    from multiexit.archs import create_model, list_models
    list_models()                         # ['msdnet', 'ranet']
    model = create_model("ranet", preset="fmnist")
"""
from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

from .errors import UsageError
from .interface import MultiExitModel


@dataclass(frozen=True)
class Arch:
    name: str
    config_class: Any  # dataclass with to_dict / from_dict
    model_class: Callable[[Any], MultiExitModel]
    presets: Dict[str, Any]

    def preset(self, name: str) -> Any:
        if name not in self.presets:
            raise UsageError(f"--preset: {self.name} has no preset {name!r}; expected one of {', '.join(self.presets)}")
        return self.presets[name]

    def build(self, config_dict: dict) -> MultiExitModel:
        try:
            cfg = self.config_class.from_dict(config_dict)
        except TypeError as e:
            raise UsageError(f"config does not fit {self.name}: {e}") from e
        return self.model_class(cfg)


_REGISTRY: Dict[str, Arch] = {}


def register_model(name: str, config_class: Any, presets: Dict[str, Any]):
    """Class decorator: registers a MultiExitModel subclass under `name` with its config class and presets."""

    def register(model_class):
        if name in _REGISTRY and _REGISTRY[name].model_class is not model_class:
            raise ValueError(f"architecture {name!r} is registered twice")
        _REGISTRY[name] = Arch(name, config_class, model_class, presets)
        return model_class

    return register


def list_models() -> List[str]:
    """The registered architectures' names, sorted."""
    return sorted(_REGISTRY)


def get_arch(name: str) -> Arch:
    if name not in _REGISTRY:
        raise UsageError(f"--arch: unknown architecture {name!r}; expected one of {', '.join(list_models())}")
    return _REGISTRY[name]


def create_model(name: str, preset: Optional[str] = None, config: Optional[dict] = None) -> MultiExitModel:
    """A new model of architecture `name`: from a config dict (a checkpoint's), else a preset (default: the first)."""
    arch = get_arch(name)
    if config is not None:
        return arch.build(config)
    return arch.model_class(arch.preset(preset or next(iter(arch.presets))))


def load_callable(spec: str):
    """FILE.py:NAME -> the object NAME defined in FILE.py."""
    path, _, attr = spec.rpartition(":")
    if not path or not attr:
        raise UsageError(f"--model: expected FILE.py:CALLABLE, got {spec!r}")
    if not os.path.exists(path):
        raise UsageError(f"--model: no file {path}")
    module_spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_spec.name] = module
    module_spec.loader.exec_module(module)
    if not hasattr(module, attr):
        raise UsageError(f"--model: {path} defines no {attr!r}")
    return getattr(module, attr)


# the built-in architectures register themselves on import (after the registry exists)
from . import msdnet, ranet  # noqa: E402,F401
