"""The exceptions the library raises; `python3 -m multiexit` turns them into messages and exit codes."""
from __future__ import annotations


class MultiExitError(Exception):
    """Something the caller asked for cannot be done; the message says what and why."""

    exit_code = 1


class UsageError(MultiExitError):
    """A bad argument or setting: an unknown architecture or preset, a missing option, a file that is not there."""

    exit_code = 2


class ExportError(MultiExitError):
    """An export check failed; the message names the stage and tensor."""

    def __init__(self, message: str):
        super().__init__(f"export failed: {message}")


def cli(main, argv=None) -> int:
    """Runs a command's main(argv): its return value (None: 0) is the exit code; a MultiExitError is
    printed as `error: message` on stderr and exits with its code (2: usage, 1: anything else)."""
    import sys

    try:
        return main(argv) or 0
    except MultiExitError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
