"""Experiments and a seed sweep across machines with DVC (issue 6, parts 4 and 5 of
tests/test_dvc_workflow.py's list), on a small project of their own (tests/dvc_project.py):

  4. experiments: named smoke/fullyear runs with `metrics diff` (against the baseline and each
     other), `plots diff` and `gx1.compare`; a run restored from the run cache leaves reports/
     describing that run only;
  5. a seed sweep over three clones standing for three machines: `dvc exp run --queue` +
     `dvc queue start -j 2` on one, `dvc exp run` on another, `dvc exp push` from both, `dvc exp pull`
     + gx1.seed_summary + `metrics diff` + a verified bundle on the third.

Run: python3 -m pytest -q tests/test_dvc_experiments.py      (about 4 minutes on 2 CPU cores)
"""
from __future__ import annotations

import json
import re
import subprocess
import sys

from dvc_project import (BUNDLE, COMMAND_TIMEOUT_S, HEADLINE, MARKS, TRAIN_METRICS, dvc, dvc_api_read, dvc_env,
                         dvc_status, git, locked_outs, project_fixture, run, stages_run, wait_for_queue)
from gx1.outputs import MARKER

pytestmark = MARKS
project = project_fixture("dvc_experiments")


# ---------------------------------------------------------------- the tests

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
            assert quality == ["quality.direction_auc", "quality.direction_auc_baseline", "quality.direction_auc_lift",
                               "quality.direction_auc_lift_ci_high", "quality.direction_auc_lift_ci_low",
                               "quality.direction_brier", "quality.direction_rank_ic", "quality.early_move_auc",
                               "quality.quality_corr"], text
        assert re.search(r"summary\.json\s+train\.epochs\s+1\s+2\s+1", text), text

    # smoke again: restored from DVC's run cache, and every file under reports/ describes smoke (all of them are
    # DVC outputs); the run-varying metrics and log stay in logs/train/<run id>/, named by the run id they carry
    smoke_id = json.loads(dvc_api_read(project, TRAIN_METRICS, "smoke"))["run_id"]
    again = dvc(project, "exp", "run", "-n", "smoke-again", "-S", "epochs=1", "-S", "limit_samples=1000",
                "-S", "replay.cooldown_bars=7")  # only the replay stage differs from smoke
    assert "train" not in stages_run(again.stdout), "smoke's train stage must come from the run cache"
    assert json.loads((project["dir"] / TRAIN_METRICS).read_text())["run_id"] == smoke_id
    reports = {p.relative_to(project["dir"]).as_posix() for p in (project["dir"] / "reports").rglob("*")
               if p.is_file() and p.name != MARKER}  # the ownership markers (gx1.outputs) describe no run
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
    assert "replay comparison: baseline smoke vs candidate fullyear" in compare.stdout
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
    summary = run([sys.executable, "-m", "gx1.seed_summary", "--exps", *names], c["dir"], c["env"], check=False)
    assert summary.returncode == 0, summary.stdout + summary.stderr
    assert summary.stdout.splitlines()[0] == "3 runs: seed-1, seed-2, seed-3", summary.stdout
    assert re.search(r"^params\.seed\s+2 ± 1\b.*n 3\)$", summary.stdout, flags=re.MULTILINE), summary.stdout
    assert re.search(rf"^{re.escape(HEADLINE)}\.train\.train_loss\s+\S+ ± \S+", summary.stdout,
                     flags=re.MULTILINE), summary.stdout
    every = run([sys.executable, "-m", "gx1.seed_summary"], c["dir"], c["env"], check=False)
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
