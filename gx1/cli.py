"""Console scripts (pyproject.toml `[project.scripts]`): `gx1-train --help` is `python3 -m gx1.models.entry_v10.entry_v10_ctx_train --help`.

Each stage's ``main(argv) -> int`` raises gx1's InputError/CheckFailed for expected failures; a console
script calling it directly would show those as tracebacks. These wrappers run it through
``gx1.common.run_cli`` (one line on stderr, exit codes 0/1/2) and import the stage only when called,
so one tool never pays for another's imports.
"""
from __future__ import annotations

import importlib

from gx1.common import run_cli


def _entry(module: str):
    """A console-script function running ``module``'s main through run_cli, importing it only when called."""
    def run() -> None:
        run_cli(importlib.import_module(module).main)
    run.__doc__ = f"python3 -m {module}"
    return run


synth = _entry("gx1.synth")
sources = _entry("gx1.sources")
bars = _entry("gx1.bars")
dataset = _entry("gx1.dataset")
contract = _entry("gx1.contract")
train = _entry("gx1.models.entry_v10.entry_v10_ctx_train")
bundle = _entry("gx1.bundle")
verify = _entry("gx1.verify")
replay = _entry("gx1.replay")
compare = _entry("gx1.compare")
seed_summary = _entry("gx1.seed_summary")
headline = _entry("gx1.headline")
fold_data = _entry("gx1.fold_data")
walkforward = _entry("gx1.walkforward")
walkforward_summary = _entry("gx1.walkforward_summary")
doctor = _entry("gx1.doctor")
