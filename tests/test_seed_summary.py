"""gx1.seed_summary: mean ± std per metric across experiments, from `dvc exp show --json` data."""
from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gx1 import seed_summary

REPO_ROOT = Path(__file__).resolve().parents[1]


def _exp(name, seed, loss, auc):
    return {"rev": name * 8, "name": name, "data": {
        "params": {"params.yaml": {"data": {"seed": seed, "epochs": 1}}},
        "metrics": {"reports/train/reproducible_metrics.json": {"data": {"last_step_losses": {"loss": loss}, "model_variant": "v10_ctx"}},
                    "reports/replay/replay.json": {"data": {"auc": auc, "flag": True}}}}}


def test_summary_matches_statistics_module(tmp_path):
    exp_show = [{"rev": "workspace", "experiments": None},
                {"rev": "abc", "name": "main", "experiments": [
                    {"revs": [_exp("s1", 1, 1.25, 0.51)]}, {"revs": [_exp("s2", 2, 1.5, 0.55)]}, {"revs": [_exp("s3", 3, 1.0, 0.53)]}]}]
    path = tmp_path / "show.json"
    path.write_text(json.dumps(exp_show))
    out = tmp_path / "summary.json"
    assert seed_summary.main(["--exp_show_json", str(path), "--json", str(out)]) == 0
    summary = json.loads(out.read_text())
    loss = summary["metrics"]["reports/train/reproducible_metrics.json.last_step_losses.loss"]
    assert loss["n"] == 3 and abs(loss["mean"] - statistics.mean([1.25, 1.5, 1.0])) < 1e-12
    assert abs(loss["std"] - statistics.stdev([1.25, 1.5, 1.0])) < 1e-12
    assert "reports/replay/replay.json.flag" not in summary["metrics"]  # booleans are not metrics
    assert summary["runs"] == ["s1", "s2", "s3"]
    assert seed_summary.main(["--exp_show_json", str(path), "--exps", "s1", "s3", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["metrics"]["params.seed"]["mean"] == 2.0


def test_the_command_line_prints_the_summary(tmp_path):
    """python3 -m gx1.seed_summary and the gx1-seed-summary console script's function print the same summary."""
    exp_show = [{"rev": "abc", "name": "main", "experiments": [{"revs": [_exp("s1", 1, 1.0, 0.5)]}]}]
    path = tmp_path / "show.json"
    path.write_text(json.dumps(exp_show))
    outputs = [subprocess.run([sys.executable, *entry, "--exp_show_json", str(path)], cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=60)
               for entry in (["-m", "gx1.seed_summary"], ["-c", "from gx1.cli import seed_summary; seed_summary()"])]
    assert [r.returncode for r in outputs] == [0, 0], [r.stderr for r in outputs]
    assert outputs[0].stdout == outputs[1].stdout and outputs[0].stdout.startswith("1 runs: s1\n")


METRICS_CMD = ("import json, yaml; seed = yaml.safe_load(open('params.yaml'))['seed']; "
               "json.dump({'loss': 1.0 / (seed + 1), 'replay': {'auc': 0.5 + seed / 100}}, open('metrics.json', 'w'))")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_dvc_python_api_reads_what_dvc_exp_show_json_prints(tmp_path, monkeypatch, capsys):
    """Two experiments of a one-stage project: the in-process API and the CLI's JSON give the same runs."""
    from dvc_project import dvc, dvc_env, git

    proj = {"dir": tmp_path / "project", "env": dvc_env(tmp_path)}
    proj["dir"].mkdir()
    git(proj, "init", "-q")
    for key, value in (("user.name", "gx1 test"), ("user.email", "gx1-test@example.invalid"),
                       ("commit.gpgsign", "false")):
        git(proj, "config", key, value)
    dvc(proj, "init", "-q")
    (proj["dir"] / "params.yaml").write_text("seed: 0\n")
    (proj["dir"] / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"score": {
        "cmd": f"{sys.executable} -c \"{METRICS_CMD}\"", "params": ["seed"],
        "metrics": [{"metrics.json": {"cache": False}}]}}}))
    dvc(proj, "repro")
    git(proj, "add", "-A")
    git(proj, "commit", "-q", "-m", "baseline")
    for seed in (1, 2):
        dvc(proj, "exp", "run", "-n", f"s{seed}", "-S", f"seed={seed}")

    from_cli = seed_summary.experiment_metrics(json.loads(dvc(proj, "exp", "show", "--json").stdout))
    for key in ("DVC_NO_ANALYTICS", "DVC_SITE_CACHE_DIR", "DVC_GLOBAL_CONFIG_DIR", "DVC_SYSTEM_CONFIG_DIR"):
        monkeypatch.setenv(key, proj["env"][key])
    from_api = seed_summary.experiment_metrics(seed_summary.dvc_exp_show(proj["dir"]))
    assert from_api == from_cli and set(from_api) == {"s1", "s2"}, (from_api, from_cli)
    assert from_api["s2"] == {"metrics.json.loss": 1 / 3, "metrics.json.replay.auc": 0.52, "params.seed": 2.0}

    monkeypatch.chdir(proj["dir"])
    assert seed_summary.main([]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "2 runs: s1, s2" and lines[-1].startswith("params.seed") and "1.5 ± 0.707" in lines[-1], lines


def test_quality_seeds_summarises_each_configuration_with_the_package_statistics():
    """scripts/quality_seeds.py's table: per configuration, mean and std (ddof=1) over its seeds, by gx1.seed_summary."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("quality_seeds", REPO_ROOT / "scripts" / "quality_seeds.py")
    quality_seeds = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quality_seeds)
    runs = [{"config": config, "seed": seed, **{k: 0.5 + seed / 100 + (config == "smoke") for k in quality_seeds.FIGURES}}
            for config in quality_seeds.CONFIGS for seed in (1, 2, 4)]
    table = quality_seeds.summarise(runs)
    for config in quality_seeds.CONFIGS:
        values = [r["direction_auc"] for r in runs if r["config"] == config]
        assert table[config]["direction_auc"] == {"mean": pytest.approx(statistics.mean(values)),
                                                  "std": pytest.approx(statistics.stdev(values))}
        assert list(table[config]) == list(quality_seeds.FIGURES)
