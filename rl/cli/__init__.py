"""The ``rlvr`` command line: ``rl.cli.main``."""
from rl.cli.main import main

__all__ = ["main"]
