"""The "fresh clone + `dvc pull`" steps of docs/experiments.md (section Remote), on a tiny project in temp git repos.

The project is the repo's committed `.dvc/config` (default remote `local` = `../gx1-dvc-remote` beside
the clone) around one small `dvc add`-ed file, so this checks the remote setup, not the pipeline
(tests/test_dvc_workflow.py pulls the real bundle). Run: python3 -m pytest -q tests/test_dvc_remote.py
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dvc_project import REPO_ROOT, dvc, dvc_env, git, run

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")]

DATA = "data/sample.txt"
MISSING = "Some of the cache files do not exist neither locally nor on remote"


@pytest.fixture
def origin(tmp_path):
    """work/origin: a git repo with the committed .dvc/config and one DVC-tracked file, in the cache only."""
    proj = {"dir": tmp_path / "work" / "origin", "env": dvc_env(tmp_path)}
    (proj["dir"] / DATA).parent.mkdir(parents=True)
    (proj["dir"] / DATA).write_text("bars, models and reports stand in here\n")
    git(proj, "init", "-q")
    for key, value in (("user.name", "gx1 test"), ("user.email", "gx1-test@example.invalid"),
                       ("commit.gpgsign", "false")):
        git(proj, "config", key, value)
    dvc(proj, "init", "-q")
    shutil.copy2(REPO_ROOT / ".dvc" / "config", proj["dir"] / ".dvc" / "config")
    dvc(proj, "add", "-q", DATA)
    git(proj, "add", "-A")
    git(proj, "commit", "-q", "-m", "one tracked file")
    return proj


def clone(origin: dict, destination: Path) -> dict:
    destination.parent.mkdir(parents=True, exist_ok=True)
    run(["git", "clone", "-q", str(origin["dir"]), str(destination)], destination.parent, origin["env"])
    return {"dir": destination, "env": origin["env"]}


def test_fresh_clone_pulls_from_the_storage_the_readme_configures(origin, tmp_path):
    storage = tmp_path / "storage" / "gx1-dvc-remote"
    fresh = clone(origin, tmp_path / "elsewhere" / "gx1")

    # Nothing pushed yet and no remote set up: the pull fails (exit 1) and says the files are missing
    failed = dvc(fresh, "pull", check=False)
    assert failed.returncode == 1 and MISSING in failed.stdout + failed.stderr, failed.stdout + failed.stderr
    assert not (fresh["dir"] / DATA).exists()

    # docs/experiments.md: in the clone that has the outputs, point `local` at the storage and push ...
    dvc(origin, "remote", "modify", "--local", "local", "url", str(storage))
    dvc(origin, "push")
    # ... and in the fresh clone, point `local` at the same storage and pull
    dvc(fresh, "remote", "modify", "--local", "local", "url", str(storage))
    assert dvc(fresh, "config", "remote.local.url").stdout.strip() == str(storage)
    dvc(fresh, "pull")
    assert (fresh["dir"] / DATA).read_text() == (origin["dir"] / DATA).read_text()
    assert dvc(fresh, "status", "--json").stdout.strip() in ("{}", "")


def test_sibling_clone_pulls_from_the_default_remote_without_configuration(origin, tmp_path):
    dvc(origin, "push")  # the committed default: work/gx1-dvc-remote, beside the clone
    assert any((tmp_path / "work" / "gx1-dvc-remote").rglob("*")), "dvc push wrote nothing beside the clone"
    sibling = clone(origin, tmp_path / "work" / "gx1")
    dvc(sibling, "pull")
    assert (sibling["dir"] / DATA).read_text() == (origin["dir"] / DATA).read_text()
