"""scripts/seed_summary.py: mean ± std per metric across experiments, from `dvc exp show --json`."""
from __future__ import annotations

import importlib.util
import json
import statistics
from pathlib import Path

spec = importlib.util.spec_from_file_location("seed_summary", Path(__file__).parents[1] / "scripts" / "seed_summary.py")
seed_summary = importlib.util.module_from_spec(spec)
spec.loader.exec_module(seed_summary)


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
