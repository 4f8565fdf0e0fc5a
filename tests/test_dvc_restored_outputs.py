"""A folder DVC restored (``dvc checkout`` after ``dvc add`` here; ``dvc pull`` restores the same way) carries no
``.gx1-output`` marker, yet a command run by hand may replace it: every file in it is a copy of a file in the
repository's DVC cache, so ``dvc checkout`` can bring it back. A file DVC cannot restore (the user's own) keeps the
folder refused, and nothing in it changes.

Run: python3 -m pytest -q tests/test_dvc_restored_outputs.py   (a temporary git + DVC repository; no network)
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gx1.outputs import MARKER, folder_problem, restorable_by_dvc

REPO = Path(__file__).resolve().parents[1]
PARAMS = "data:\n  sources:\n    XAUUSD: {file: synthetic, interval_minutes: 60, year: 2025, last_year: 2025, seed: 1}\n"


def run(cwd: Path, *command: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env, timeout=120)


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def restored(tmp_path) -> Path:
    """A repository whose ``sources`` folder came out of ``dvc checkout`` (no marker), as after ``dvc pull``."""
    for command in (("git", "init", "-q"), ("dvc", "init", "-q")):
        assert run(tmp_path, *command).returncode == 0
    (tmp_path / "params.yaml").write_text(PARAMS)
    assert run(tmp_path, sys.executable, "-m", "gx1.sources", "--params", "params.yaml", "--out_dir", "sources").returncode == 0
    (tmp_path / "sources" / MARKER).unlink()  # .dvcignore'd in the project: DVC never tracks nor restores it
    assert run(tmp_path, "dvc", "add", "-q", "sources").returncode == 0
    for path in (tmp_path / "sources").iterdir():
        path.unlink()
    (tmp_path / "sources").rmdir()
    checkout = run(tmp_path, "dvc", "checkout", "-q", "sources.dvc")
    assert checkout.returncode == 0, checkout.stderr
    assert not (tmp_path / "sources" / MARKER).exists() and any((tmp_path / "sources").iterdir())
    return tmp_path


@pytest.mark.slow  # seven dvc and gx1 processes
def test_a_hand_run_replaces_a_folder_dvc_restored(restored):
    before = tree(restored / "sources")
    rerun = run(restored, sys.executable, "-m", "gx1.sources", "--params", "params.yaml", "--out_dir", "sources")
    assert rerun.returncode == 0, rerun.stderr
    after = tree(restored / "sources")
    assert {k: v for k, v in after.items() if k != MARKER} == before  # same params, same bars
    assert MARKER in after  # now the command's own


@pytest.mark.slow
def test_a_file_dvc_cannot_restore_keeps_the_folder_refused(restored):
    (restored / "sources" / "my_notes.txt").write_text("mine\n")
    assert not restorable_by_dvc(restored / "sources")
    before = tree(restored)
    rerun = run(restored, sys.executable, "-m", "gx1.sources", "--params", "params.yaml", "--out_dir", "sources")
    assert rerun.returncode == 2 and len(rerun.stderr.strip().splitlines()) == 1, rerun.stderr
    assert "refusing to replace" in rerun.stderr
    assert tree(restored) == before


def test_only_files_in_the_cache_of_the_folders_own_repository_count(tmp_path):
    """Without DVC nothing is restorable; a fake cache entry under another name does not make a file restorable."""
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "a.json").write_text("{}\n")
    assert not restorable_by_dvc(folder)
    assert folder_problem(folder, "gx1.sources") is not None
    cache = tmp_path / ".dvc" / "cache" / "files" / "md5"
    (cache / "99").mkdir(parents=True)
    (cache / "99" / ("0" * 30)).write_text("{}\n")
    assert not restorable_by_dvc(folder)
    import hashlib
    digest = hashlib.md5(b"{}\n").hexdigest()
    (cache / digest[:2]).mkdir(exist_ok=True)
    (cache / digest[:2] / digest[2:]).write_text("{}\n")
    assert restorable_by_dvc(folder) and folder_problem(folder, "gx1.sources") is None
    (folder / "sub").mkdir()
    os.mkfifo(folder / "sub" / "pipe")  # not a regular file: never read, never restorable
    assert not restorable_by_dvc(folder)
