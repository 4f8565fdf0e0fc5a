"""The DVC workflow of issue 6, end to end, in a temporary git repo at a small size.

One module-scoped project (tests/dvc_project.py: a copy of the repo's git-tracked files without
dvc.lock, params at `limit_samples: 1500`, `epochs: 1`) is reproduced once and committed as the
baseline; the tests below then run in file order, each leaving the workspace as it found it or later
tests relying on nothing it changed:

  1. from-scratch reproducibility: wipe every output and the cache, `dvc repro`, same md5s;
  2. a comment in gx1/replay.py reruns only the replay stage; an interrupted `dvc repro` resumes
     training from its last checkpoint and ends with the same bytes;
  3. `dvc push`, fresh `git clone`, `dvc pull`: the pulled bundle verifies without retraining;
  4. walk-forward: two folds in params.yaml are two `fold@` stages before the summary, and a fold
     added later runs alone.

Experiments (`metrics diff`, `plots diff`, gx1.compare, the run cache) and a seed sweep across three
machines are in tests/test_dvc_experiments.py, on a project of their own, so that the two files run
side by side.

Run: python3 -m pytest -q tests/test_dvc_workflow.py      (about 3 minutes on 2 CPU cores)
"""
from __future__ import annotations

import json
import shutil
import sys

from dvc_project import (BUNDLE, MARKS, STAGES, TRAIN_METRICS, dvc, dvc_env, dvc_status, git, locked_outs,
                         project_fixture, run, set_top_level_params, stages_run)

pytestmark = MARKS
project = project_fixture("dvc_workflow")


# ---------------------------------------------------------------- the tests

def test_repro_from_scratch_twice_gives_identical_md5s(project):
    lock_path = project["dir"] / "dvc.lock"
    first = locked_outs(lock_path)
    assert {path for path in first} >= {
        "data/bars/sources", "data/entry_v9/full_2025.parquet", "models/entry_v10_ctx/pipeline",
        BUNDLE, TRAIN_METRICS, "reports/verify.json", "reports/replay/replay.json"}, sorted(first)

    for path in first:
        target = project["dir"] / path
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()
    shutil.rmtree(project["dir"] / ".dvc" / "cache")  # objects and the run-cache (.dvc/cache/runs)

    # --force: the bundle directory is byte-identical to train's out_dir, so a plain `dvc repro`
    # would (rightly) check the bundle out of the freshly filled cache instead of running gx1.bundle
    repro = dvc(project, "repro", "--force")
    assert stages_run(repro.stdout) == list(STAGES), "every stage must run again, none restored from a cache"
    second = locked_outs(lock_path)
    differing = {path: (first.get(path), second.get(path)) for path in first.keys() | second.keys()
                 if first.get(path) != second.get(path)}
    assert not differing, f"outputs differ between two from-scratch runs (first md5, second md5): {differing}"
    assert lock_path.read_text() == project["baseline_lock"], "dvc.lock changed beyond the outputs' md5s"
    assert dvc_status(project) == {}
    assert git(project, "status", "--porcelain") == ""


def test_replay_code_change_reruns_only_replay(project):
    replay_py = project["dir"] / "gx1" / "replay.py"
    original = replay_py.read_bytes()
    try:
        replay_py.write_bytes(original + b"# a comment: changes the file's md5, not its behaviour\n")
        status = dvc_status(project)
        assert set(status) == {"replay"}, f"`dvc status` after editing gx1/replay.py: {status}"
        assert status["replay"] == [{"changed deps": {"gx1/replay.py": "modified"}}], status
        repro = dvc(project, "repro")
        assert stages_run(repro.stdout) == ["replay"], repro.stdout[-3000:]
        assert dvc_status(project) == {}
    finally:
        replay_py.write_bytes(original)
        # the original replay run is in the run-cache: restored, not rerun
        restore = dvc(project, "repro")
    assert stages_run(restore.stdout) == [], restore.stdout[-3000:]
    assert (project["dir"] / "dvc.lock").read_text() == project["baseline_lock"]
    assert dvc_status(project) == {}


def test_interrupted_repro_resumes_training_to_the_same_bytes(project):
    """DVC deletes a stage's outs before running it; the checkpoint lives beside them, so a second `dvc repro`
    after a kill resumes from the last finished epoch."""
    params_path = project["dir"] / "params.yaml"
    original = params_path.read_text()
    try:
        set_top_level_params(params_path, {"epochs": "2"})
        killed = run([sys.executable, "-m", "dvc", "repro", "train"], project["dir"],
                     {**project["env"], "GX1_FAULT_KILL_AFTER_EPOCH": "1"}, check=False)
        assert killed.returncode != 0 and "fault injection" in killed.stdout + killed.stderr
        assert list((project["dir"] / "models/entry_v10_ctx/pipeline.checkpoints").glob("*.pt"))
        resumed = dvc(project, "repro", "train")  # train alone: the stages after it are not what this tests
        assert "resumed from" in resumed.stdout and "1 of 2 epochs done" in resumed.stdout, resumed.stdout[-3000:]
        assert not list((project["dir"] / "models/entry_v10_ctx/pipeline.checkpoints").glob("*.pt"))  # done: removed
        # (tests/test_train.py proves a resumed run's weights equal an uninterrupted run's, byte for byte)
    finally:
        params_path.write_text(original)
        dvc(project, "repro")  # back to the baseline, from the run cache
    assert (project["dir"] / "dvc.lock").read_text() == project["baseline_lock"]


def test_push_then_clone_and_pull_gives_a_verified_bundle_without_retraining(project):
    assert git(project, "status", "--porcelain") == "", "the workspace must be the committed baseline"
    assert dvc_status(project) == {}
    dvc(project, "push")
    assert any(project["remote"].rglob("*")), "dvc push wrote nothing to the remote"

    clone_root = project["root"] / "clone_env"
    clone = clone_root / "clone"
    clone_root.mkdir()
    run(["git", "clone", "-q", str(project["dir"]), str(clone)], project["root"], project["env"])
    clone_project = {"dir": clone, "env": dvc_env(clone_root)}
    assert not (clone / BUNDLE).exists()
    dvc(clone_project, "remote", "modify", "--local", "local", "url", str(project["remote"]))
    dvc(clone_project, "pull")

    verify = run([sys.executable, "scripts/verify_entry_v10_ctx_bundle.py", "--bundle_dir", BUNDLE],
                 clone, clone_project["env"], check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert dvc_status(clone_project) == {}, "the pulled workspace must match dvc.lock: nothing to rerun"
    for name in sorted(p.name for p in (project["dir"] / BUNDLE).iterdir()):
        assert (clone / BUNDLE / name).read_bytes() == (project["dir"] / BUNDLE / name).read_bytes(), name


def test_walkforward_folds_are_stages_and_a_new_fold_runs_alone(project):
    """Folds from params.yaml become `fold@<name>` stages: the summary runs after them, adding a fold trains that
    fold only (the knobs stage reruns on any params change, rewriting its files byte-identical), and `dvc status`
    is clean after each repro."""
    params = project["dir"] / "params.yaml"
    original = params.read_text()
    fold_a = 'a: {start: "2025-01-09", days: 2}'  # small folds: about 900 and 2,000 training rows
    try:
        params.write_text(original.replace("  folds: {}", f"  folds: {{{fold_a}}}", 1))
        first = dvc(project, "repro", "walkforward")
        assert stages_run(first.stdout) == ["knobs", "fold_data@a", "fold@a", "walkforward"], first.stdout[-2000:]
        params.write_text(original.replace("  folds: {}", f'  folds: {{{fold_a}, b: {{start: "2025-01-13", days: 2}}}}', 1))
        second = dvc(project, "repro", "walkforward")
        assert stages_run(second.stdout) == ["knobs", "fold_data@b", "fold@b", "walkforward"], second.stdout[-2000:]  # fold a: unchanged, kept
        assert not dvc_status(project)
        summary = json.loads((project["dir"] / "reports/walkforward/summary.json").read_text())
        table = (project["dir"] / "reports/walkforward/folds.tsv").read_text().splitlines()
        assert summary["folds"] == 2 and [line.split("\t")[0] for line in table[1:]] == ["2025-01-09T00:00:00",
                                                                                        "2025-01-13T00:00:00"]
        shown = json.loads(dvc(project, "metrics", "show", "--json", "reports/walkforward/summary.json").stdout)
        assert "direction_auc" in json.dumps(shown), shown
    finally:
        params.write_text(original)
        git(project, "checkout", "--", "dvc.lock")
