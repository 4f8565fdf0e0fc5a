"""A small copy of the project in a temporary git repo, for the DVC workflow tests (not a test module).

``small_project`` copies the repo's git-tracked files without dvc.lock, sets params to `limit_samples:
1500`, `epochs: 1`, points the DVC remote at a temporary folder, runs `dvc repro` once and commits
the result as the baseline. tests/test_dvc_workflow.py and tests/test_dvc_experiments.py each build
their own (module-scoped), so that the two files run side by side on two pytest-xdist workers.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
STAGES = ("data", "dataset", "contract", "knobs", "train", "bundle", "verify", "replay", "headline", "walkforward")
SMALL_PARAMS = {"limit_samples": "1500", "epochs": "1"}  # holdout_days stays 7 (params.yaml)
BUNDLE = "models/entry_v10_ctx/bundle"
TRAIN_METRICS = "reports/train/reproducible_metrics.json"  # every figure (a plain out)
HEADLINE = "reports/summary.json"  # the one metrics file: what `dvc metrics diff` lists (gx1/headline.py)
COMMAND_TIMEOUT_S = 300


# ---------------------------------------------------------------- helpers

def dvc_env(root: Path) -> dict[str, str]:
    """Environment keeping every DVC directory (site cache, global and system config) under `root`."""
    env = dict(os.environ)
    env.update({
        "DVC_NO_ANALYTICS": "1",
        "DVC_SITE_CACHE_DIR": str(root / "dvc-site-cache"),
        "DVC_GLOBAL_CONFIG_DIR": str(root / "dvc-global-config"),
        "DVC_SYSTEM_CONFIG_DIR": str(root / "dvc-system-config"),
        # gx1.seed_summary calls plain `dvc`: make it the one installed with this interpreter
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    })
    return env


def run(argv: list[str], cwd: Path, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    """Run a command; with check, fail the test showing the command's output when it exits non-zero."""
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    if check and result.returncode != 0:
        pytest.fail(f"`{' '.join(argv)}` exited {result.returncode} in {cwd}\n"
                    f"--- stdout ---\n{result.stdout[-4000:]}\n--- stderr ---\n{result.stderr[-4000:]}")
    return result


def dvc(project: dict, *args: str, check: bool = True, cwd: Path | None = None,
        env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "dvc", *args], cwd or project["dir"], {**project["env"], **(env_extra or {})}, check)


def git(project: dict, *args: str, cwd: Path | None = None) -> str:
    return run(["git", *args], cwd or project["dir"], project["env"]).stdout


def dvc_status(project: dict, cwd: Path | None = None) -> dict:
    return json.loads(dvc(project, "status", "--json", cwd=cwd).stdout or "{}")


def dvc_api_read(project: dict, path: str, rev: str) -> str:
    """A file as it is in an experiment or revision (DVC's Python API, in the project's environment)."""
    code = f"import dvc.api, sys; sys.stdout.write(dvc.api.read({path!r}, rev={rev!r}))"
    return run([sys.executable, "-c", code], project["dir"], project["env"]).stdout


def stages_run(output: str) -> list[str]:
    return re.findall(r"Running stage '([^']+)'", output)


def locked_outs(lock_path: Path) -> dict[str, str]:
    """{output path: md5} over every stage's cached outputs in dvc.lock."""
    lock = yaml.safe_load(lock_path.read_text())
    return {out["path"]: out["md5"] for stage in lock["stages"].values() for out in stage.get("outs", [])}


def set_top_level_params(params_path: Path, values: dict[str, str]) -> None:
    """Rewrite `key: value` lines at the top of params.yaml, keeping comments and every other line."""
    text = params_path.read_text()
    for key, value in values.items():
        text, count = re.subn(rf"^{key}:[ \t]*[^ \t#\n]+", f"{key}: {value}", text, flags=re.MULTILINE)
        assert count == 1, f"params.yaml has {count} top-level {key!r} lines, expected 1"
    params_path.write_text(text)


def copy_tracked_files(destination: Path) -> None:
    """The repo's git-tracked files as they are in the working tree, without dvc.lock."""
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True).stdout
    for name in listing.decode().split("\0"):
        source = REPO_ROOT / name
        if not name or name == "dvc.lock" or not source.is_file():  # deleted in the working tree
            continue
        (destination / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination / name)


def wait_for_queue(project: dict, names: list[str], timeout_s: float) -> str:
    """Poll `dvc queue status` until every named experiment is Success; fail on Failed or timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        status = dvc(project, "queue", "status").stdout
        states = {}
        for line in status.splitlines():
            fields = line.split()
            if len(fields) >= 2 and fields[1] in names:
                states[fields[1]] = fields[-1]
        failed = [name for name, state in states.items() if state not in ("Queued", "Running", "Success")]
        if failed:
            logs = "\n".join(dvc(project, "queue", "logs", name, check=False).stdout[-3000:] for name in failed)
            pytest.fail(f"queued experiments {failed} did not succeed:\n{status}\n{logs}")
        if len(states) == len(names) and all(state == "Success" for state in states.values()):
            return status
        if time.monotonic() > deadline:
            pytest.fail(f"queued experiments not done after {timeout_s:.0f} s:\n{status}")
        time.sleep(3)


# ---------------------------------------------------------------- the project

MARKS = [pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed"), pytest.mark.slow]


def project_fixture(name: str):
    """A module-scoped ``project`` fixture: the module's own small project (``small_project``)."""
    @pytest.fixture(scope="module")
    def project(tmp_path_factory):
        yield from small_project(tmp_path_factory, name)
    return project


def small_project(tmp_path_factory, name: str, prepare=None):
    """A small copy of the project in its own git repo, reproduced once and committed as the baseline: a
    generator behind ``project_fixture`` (each test module gets its own copy). ``prepare(project_dir)``, when
    given, changes the copy before the first commit (tests/test_doc_commands.py: smaller bars).
    ``project["repro_output"]`` is the baseline `dvc repro`'s stdout."""
    root = tmp_path_factory.mktemp(name)
    project_dir = root / "project"
    project_dir.mkdir()
    copy_tracked_files(project_dir)
    set_top_level_params(project_dir / "params.yaml", SMALL_PARAMS)
    params = yaml.safe_load((project_dir / "params.yaml").read_text())
    assert (params["limit_samples"], params["epochs"], params["holdout_days"]) == (1500, 1, 7)
    if prepare is not None:
        prepare(project_dir)

    config = (project_dir / ".dvc" / "config").read_text()
    assert re.search(r"analytics\s*=\s*false", config) and re.search(r"check_update\s*=\s*false", config), \
        ".dvc/config must commit core.analytics = false and core.check_update = false"

    proj = {"root": root, "dir": project_dir, "env": dvc_env(root), "remote": root / "dvc-remote"}
    git(proj, "init", "-q")
    git(proj, "config", "user.name", "gx1 test")
    git(proj, "config", "user.email", "gx1-test@example.invalid")
    git(proj, "config", "commit.gpgsign", "false")
    git(proj, "add", "-A")
    git(proj, "commit", "-q", "-m", "project at test size, no dvc.lock")
    dvc(proj, "remote", "modify", "--local", "local", "url", str(proj["remote"]))

    repro = dvc(proj, "repro")
    assert stages_run(repro.stdout) == list(STAGES), repro.stdout[-3000:]
    git(proj, "add", "-A")
    git(proj, "commit", "-q", "-m", "baseline: dvc.lock at test size")
    proj["baseline_lock"] = (project_dir / "dvc.lock").read_text()
    proj["repro_output"] = repro.stdout
    yield proj
    dvc(proj, "queue", "stop", "--kill", check=False)  # in case a queue test failed mid-run


