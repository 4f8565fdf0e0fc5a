"""The DVC workflow of issue 6, end to end, in a temporary git repo at a small size.

One module-scoped project (a copy of the repo's git-tracked files without dvc.lock, params at
`limit_samples: 1500`, `epochs: 1`) is reproduced once and committed as the baseline; the tests
below then run in file order, each leaving the workspace as it found it or later tests relying on
nothing it changed:

  1. from-scratch reproducibility: wipe every output and the cache, `dvc repro`, same md5s;
  2. a comment in gx1/replay.py reruns only the replay stage; an interrupted `dvc repro` resumes
     training from its last checkpoint and ends with the same bytes;
  3. `dvc push`, fresh `git clone`, `dvc pull`: the pulled bundle verifies without retraining;
  4. experiments: named smoke/fullyear runs with `metrics diff` (against the baseline and each
     other), `plots diff` and `gx1.compare`; a run restored from the run cache leaves reports/
     describing that run only;
  5. a seed sweep over three clones standing for three machines: `dvc exp run --queue` +
     `dvc queue start -j 2` on one, `dvc exp run` on another, `dvc exp push` from both, `dvc exp pull`
     + scripts/seed_summary.py + `metrics diff` + a verified bundle on the third;
  6. walk-forward: two folds in params.yaml are two `fold@` stages before the summary, and a fold
     added later runs alone.

Run: python3 -m pytest -q tests/test_dvc_workflow.py      (about 5 minutes on 2 CPU cores)
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

pytestmark = [pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed"), pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[1]
STAGES = ("data", "dataset", "contract", "train", "bundle", "verify", "replay", "headline", "walkforward")
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
        # scripts/seed_summary.py calls plain `dvc`: make it the one installed with this interpreter
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

@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A small copy of the project in its own git repo, reproduced once and committed as the baseline."""
    root = tmp_path_factory.mktemp("dvc_workflow")
    project_dir = root / "project"
    project_dir.mkdir()
    copy_tracked_files(project_dir)
    set_top_level_params(project_dir / "params.yaml", SMALL_PARAMS)
    params = yaml.safe_load((project_dir / "params.yaml").read_text())
    assert (params["limit_samples"], params["epochs"], params["holdout_days"]) == (1500, 1, 7)

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
    yield proj
    dvc(proj, "queue", "stop", "--kill", check=False)  # in case a queue test failed mid-run


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


def test_experiments_metrics_diff_plots_diff_and_compare(project):
    assert git(project, "status", "--porcelain") == "", "the baseline's dvc.lock must be committed"

    # Each -S that differs from the baseline is spelled out: `dvc exp run` leaves the last
    # experiment's params in the workspace, so without `-S limit_samples=1500` fullyear would
    # inherit smoke's 1000.
    dvc(project, "exp", "run", "-n", "smoke", "-S", "epochs=1", "-S", "limit_samples=1000")
    dvc(project, "exp", "run", "-n", "fullyear", "-S", "epochs=2", "-S", "limit_samples=1500")
    # the workspace (fullyear, 2 epochs) against the committed baseline (1 epoch)
    diff = json.loads(dvc(project, "metrics", "diff", "--json").stdout)[HEADLINE]
    assert (diff["train.epochs"]["old"], diff["train.epochs"]["new"]) == (1, 2), diff.get("train.epochs")
    loss = diff["train.train_loss"]
    assert loss["old"] != loss["new"], loss
    details = json.loads(dvc(project, "metrics", "diff", "--targets", TRAIN_METRICS, "--json").stdout)[TRAIN_METRICS]
    assert details["last_step_losses.loss"]["old"] != details["last_step_losses.loss"]["new"]

    named = json.loads(dvc(project, "metrics", "diff", "smoke", "fullyear", "--all", "--json").stdout)
    assert list(named) == [HEADLINE], named  # one file, so DVC sorts its rows (files come in set order)
    assert (named[HEADLINE]["train.epochs"]["old"], named[HEADLINE]["train.epochs"]["new"]) == (1, 2), named
    # model quality leads: every quality.* row comes before any other, whatever the process's hash seed
    # (without --all DVC lists only what changed: the baseline's AUC is the same for both runs)
    for hash_seed, every in (("0", []), ("1", ["--all"])):
        text = dvc(project, "metrics", "diff", "smoke", "fullyear", *every,
                   env_extra={"PYTHONHASHSEED": hash_seed}).stdout
        lines = [line for line in text.splitlines() if line.strip()]
        assert max(map(len, lines)) <= 120, text  # fits a 120-column terminal
        metrics = [line.split()[1] for line in lines[1:]]
        quality = [name for name in metrics if name.startswith("quality.")]
        assert quality and metrics[:len(quality)] == quality, text
        if every:
            assert quality == ["quality.direction_auc", "quality.direction_auc_baseline", "quality.early_move_auc",
                               "quality.quality_corr"], text
        assert re.search(r"summary\.json\s+train\.epochs\s+1\s+2\s+1", text), text

    # smoke again: restored from DVC's run cache, and every file under reports/ describes smoke (all of them are
    # DVC outputs); the run-varying metrics and log stay in logs/train/<run id>/, named by the run id they carry
    smoke_id = json.loads(dvc_api_read(project, TRAIN_METRICS, "smoke"))["run_id"]
    again = dvc(project, "exp", "run", "-n", "smoke-again", "-S", "epochs=1", "-S", "limit_samples=1000",
                "-S", "replay.cooldown_bars=7")  # only the replay stage differs from smoke
    assert "train" not in stages_run(again.stdout), "smoke's train stage must come from the run cache"
    assert json.loads((project["dir"] / TRAIN_METRICS).read_text())["run_id"] == smoke_id
    reports = {p.relative_to(project["dir"]).as_posix() for p in (project["dir"] / "reports").rglob("*") if p.is_file()}
    assert reports <= set(locked_outs(project["dir"] / "dvc.lock")), reports - set(locked_outs(project["dir"] / "dvc.lock"))
    assert dvc_status(project) == {}  # and each of them matches the restored run's lock
    log = (project["dir"] / "logs" / "train" / smoke_id / "run_log.txt").read_text()
    assert "samples/s" in log and json.loads((project["dir"] / "logs/train" / smoke_id / "metrics.json").read_text())["run_id"] == smoke_id

    plots_dir = project["root"] / "plots_smoke_fullyear"
    dvc(project, "plots", "diff", "smoke", "fullyear", "-o", str(plots_dir))
    html = (plots_dir / "index.html").read_text()
    for plot_id in ("loss_per_step", "loss_per_epoch", "replay_entry_quality"):
        assert plot_id in html, f"{plot_id} missing from plots diff index.html"

    compare = run([sys.executable, "-m", "gx1.compare", "--baseline", "smoke", "--candidate", "fullyear"],
                  project["dir"], project["env"], check=False)
    assert compare.returncode == 0, compare.stdout + compare.stderr
    assert "replay comparison (plan §5B): baseline smoke vs candidate fullyear" in compare.stdout
    for metric in ("n_candidates", "n_trades_created", "mae_bps_mean", "mfe_bps_mean", "mae_atr_mean",
                   "mfe_atr_mean", "mfe_mae_ratio", "goes_against_us_rate", "tolerances:"):
        assert re.search(rf"^{metric}\s", compare.stdout, flags=re.MULTILINE), (metric, compare.stdout)


def test_seed_sweep_on_two_machines_gathered_on_a_third(project):
    """Three clones of a shared git remote stand for three machines sharing one DVC remote: A queues two
    seeds and runs them side by side (`dvc queue start -j 2`) while B runs a third; both `dvc exp push`;
    C `dvc exp pull`s all three, summarises them (seed_summary), diffs runs made on different machines
    and verifies a pulled bundle without training."""
    git(project, "checkout", "--", ".")  # an earlier experiment left its params and lock in the workspace
    dvc(project, "checkout", "--force")
    assert git(project, "status", "--porcelain") == "" and dvc_status(project) == {}
    dvc(project, "push")  # the baseline's outputs, so each machine starts from `dvc pull`, not a retrain
    shared_git = project["root"] / "shared.git"
    run(["git", "clone", "-q", "--bare", str(project["dir"]), str(shared_git)], project["root"], project["env"])

    def machine(name: str) -> dict:
        root = project["root"] / f"machine_{name}"
        root.mkdir()
        run(["git", "clone", "-q", str(shared_git), str(root / "gx1")], root, project["env"])
        proj = {"dir": root / "gx1", "env": dvc_env(root), "root": root}
        for key, value in (("user.name", f"machine {name}"), ("user.email", f"{name}@example.invalid"),
                           ("commit.gpgsign", "false")):
            git(proj, "config", key, value)
        dvc(proj, "remote", "modify", "--local", "local", "url", str(project["remote"]))
        dvc(proj, "pull")
        return proj

    a, b = machine("a"), machine("b")
    queued = ["seed-1", "seed-2"]
    for seed, name in zip((1, 2), queued):
        dvc(a, "exp", "run", "--queue", "-n", name, "-S", f"seed={seed}")
    # `queue start` daemonises workers that inherit its stdout/stderr: give it a file, not a pipe
    # (with a pipe, reading its output waits for the workers to exit)
    log_path = a["root"] / "queue_start.log"
    with open(log_path, "w") as log:
        start = subprocess.run([sys.executable, "-m", "dvc", "queue", "start", "-j", "2"], cwd=a["dir"], env=a["env"],
                               stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, timeout=COMMAND_TIMEOUT_S)
    try:
        assert start.returncode == 0, log_path.read_text()
        ran = dvc(b, "exp", "run", "-n", "seed-3", "-S", "seed=3")  # machine B, meanwhile
        assert "train" in stages_run(ran.stdout), ran.stdout[-2000:]
        wait_for_queue(a, queued, timeout_s=240)
    finally:
        dvc(a, "queue", "stop", "--kill", check=False)
    dvc(a, "exp", "push", "origin", *queued)
    dvc(b, "exp", "push", "origin", "seed-3")

    c = machine("c")
    names = [*queued, "seed-3"]
    dvc(c, "exp", "pull", "origin", *names)
    summary = run([sys.executable, "scripts/seed_summary.py", "--exps", *names], c["dir"], c["env"], check=False)
    assert summary.returncode == 0, summary.stdout + summary.stderr
    assert summary.stdout.splitlines()[0] == "3 runs: seed-1, seed-2, seed-3", summary.stdout
    assert re.search(r"^params\.seed\s+2 ± 1\b.*n 3\)$", summary.stdout, flags=re.MULTILINE), summary.stdout
    assert re.search(rf"^{re.escape(HEADLINE)}\.train\.train_loss\s+\S+ ± \S+", summary.stdout,
                     flags=re.MULTILINE), summary.stdout
    every = run([sys.executable, "scripts/seed_summary.py"], c["dir"], c["env"], check=False)
    assert every.returncode == 0, every.stdout + every.stderr
    assert all(name in every.stdout.splitlines()[0] for name in names), every.stdout
    diff = json.loads(dvc(c, "metrics", "diff", "seed-1", "seed-3", "--json").stdout)[HEADLINE]  # A's run vs B's
    assert diff["train.train_loss"]["old"] != diff["train.train_loss"]["new"], diff

    dvc(c, "exp", "apply", "seed-3")
    dvc(c, "checkout")  # the experiment's outputs, from the cache `exp pull` filled
    verify = run([sys.executable, "scripts/verify_entry_v10_ctx_bundle.py", "--bundle_dir", BUNDLE],
                 c["dir"], c["env"], check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert json.loads((c["dir"] / "models/entry_v10_ctx/bundle/train_config.json").read_text())["seed"] == 3


def test_walkforward_folds_are_stages_and_a_new_fold_runs_alone(project):
    """Folds from params.yaml become `fold@<name>` stages: the summary runs after them, adding a fold runs that
    fold only, and `dvc status` is clean after each repro."""
    params = project["dir"] / "params.yaml"
    original = params.read_text()
    fold_a = 'a: {start: "2025-01-09", days: 2}'  # small folds: about 900 and 2,000 training rows
    try:
        params.write_text(original.replace("  folds: {}", f"  folds: {{{fold_a}}}", 1))
        first = dvc(project, "repro", "walkforward")
        assert stages_run(first.stdout) == ["fold_data@a", "fold@a", "walkforward"], first.stdout[-2000:]
        params.write_text(original.replace("  folds: {}", f'  folds: {{{fold_a}, b: {{start: "2025-01-13", days: 2}}}}', 1))
        second = dvc(project, "repro", "walkforward")
        assert stages_run(second.stdout) == ["fold_data@b", "fold@b", "walkforward"], second.stdout[-2000:]  # fold a: unchanged, kept
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
