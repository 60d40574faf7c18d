"""python3 -m multiexit COMMAND [options]: train, export, evaluate, validate or count FLOPs of a
multi-exit model. `python3 -m multiexit COMMAND --help` describes each command's options."""
from __future__ import annotations

import sys

from .errors import cli

COMMANDS = {
    "train": "train a model (--arch ranet|msdnet) with a checkpoint every epoch",
    "export": "export a checkpoint (or any model on the staging interface) as a served model folder",
    "evaluate": "per-exit accuracy and FLOPs of a checkpoint on the validation and test splits",
    "validate": "check a model folder the way the server will load it",
    "flops": "parameters and cumulative multiply-adds per exit of an architecture's preset",
}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print(__doc__.strip() + "\n\ncommands:", file=sys.stderr)
        for name, text in COMMANDS.items():
            print(f"  {name:9s} {text}", file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    command, rest = argv[0], argv[1:]
    if command == "train":
        from .train import main as run
    elif command == "export":
        from .export import main as run
    elif command == "evaluate":
        from .evaluate import main as run
    elif command == "validate":
        from .validate import main as run
    else:
        from .flops import main as run
    return cli(run, rest)


if __name__ == "__main__":
    sys.exit(main())
