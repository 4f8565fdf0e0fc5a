"""Console scripts (pyproject.toml `[project.scripts]`): `gx1-train --help` is `python3 -m gx1.models.entry_v10.entry_v10_ctx_train --help`.

Each stage's ``main(argv) -> int`` raises gx1's InputError/CheckFailed for expected failures; a console
script calling it directly would show those as tracebacks. These wrappers run it through
``gx1.common.run_cli`` (one line on stderr, exit codes 0/1/2) and import the stage only when called,
so one tool never pays for another's imports.
"""
from __future__ import annotations

import importlib

from gx1.common import run_cli


def _run(module: str) -> None:
    run_cli(importlib.import_module(module).main)


def synth() -> None:
    _run("gx1.synth")


def bars() -> None:
    _run("gx1.bars")


def dataset() -> None:
    _run("gx1.dataset")


def contract() -> None:
    _run("gx1.contract")


def train() -> None:
    _run("gx1.models.entry_v10.entry_v10_ctx_train")


def bundle() -> None:
    _run("gx1.bundle")


def verify() -> None:
    _run("gx1.verify")


def replay() -> None:
    _run("gx1.replay")


def compare() -> None:
    _run("gx1.compare")


def seed_summary() -> None:
    _run("gx1.seed_summary")
