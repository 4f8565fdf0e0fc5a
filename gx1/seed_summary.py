"""Summarise DVC experiments (e.g. one per seed) as mean ± std per metric.

Run after queueing and running a few seeds:
    dvc exp run --queue -S seed=1 && dvc exp run --queue -S seed=2 && dvc exp run --queue -S seed=3
    dvc queue start -j 2 && dvc queue status          # wait until all are Success
    python3 -m gx1.seed_summary                        # every experiment of the current baseline
    python3 -m gx1.seed_summary --exps exp-a exp-b --json reports/seeds.json

(The `gx1-seed-summary` console script runs the same.)
Reads the experiments through DVC's Python API (`Repo.experiments.show()`, the data behind
`dvc exp show --json`; or a saved copy of that JSON via --exp_show_json), takes each experiment's
numeric metrics (nested keys joined with '.'), and prints n, mean, std (ddof=1), min and max.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from gx1.common import ArgumentParser, InputError, read_json, run_cli, write_json
from gx1.outputs import check_file, json_kind


def _flatten(prefix: str, value, out: dict[str, float]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        out[prefix] = float(value)


def experiment_metrics(exp_show: list[dict]) -> dict[str, dict[str, float]]:
    """{experiment name: {metric: value}} for every experiment under every baseline in `dvc exp show --json`."""
    runs: dict[str, dict[str, float]] = {}
    for baseline in exp_show:
        for group in baseline.get("experiments") or []:
            for rev in group.get("revs", []):
                data = rev.get("data") or {}
                flat: dict[str, float] = {}
                for path, content in (data.get("metrics") or {}).items():
                    _flatten(path, (content or {}).get("data", {}), flat)
                seed = ((data.get("params") or {}).get("params.yaml", {}).get("data", {}) or {}).get("seed")
                if seed is not None:
                    flat["params.seed"] = float(seed)
                runs[rev.get("name") or group.get("name") or rev["rev"][:7]] = flat
    return runs


def dvc_exp_show(repo_dir: str | Path | None = None) -> list[dict]:
    """What `dvc exp show --json` prints, read in-process through DVC's Python API: one dict per baseline."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with Repo(str(repo_dir) if repo_dir is not None else None) as repo:
            states = repo.experiments.show()
            # dumpd() is the dict `dvc exp show --json` serialises; round-trip it through JSON the same
            # way (dates and errors as text) so both sources give experiment_metrics() one shape
            return json.loads(json.dumps([state.dumpd() for state in states], default=str))
    except DvcException as exc:
        raise InputError(f"reading the DVC experiments failed: {exc} "
                         "(run inside the gx1 repo, or pass --exp_show_json)") from None


def summarise(runs: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per metric present in every run: n, mean, std (ddof=1; 0 for one run), min, max."""
    if not runs:
        raise InputError("no experiments found: run some first (`dvc exp run --queue -S seed=1 ...; dvc queue start`)")
    common = set.intersection(*(set(m) for m in runs.values()))
    summary = {}
    for metric in sorted(common):
        values = [runs[name][metric] for name in runs]
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
        summary[metric] = {"n": len(values), "mean": mean, "std": std, "min": min(values), "max": max(values)}
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python3 -m gx1.seed_summary", description=__doc__.splitlines()[0])
    parser.add_argument("--exps", nargs="*", help="experiment names to include (default: all)")
    parser.add_argument("--exp_show_json", help="saved `dvc exp show --json` output instead of reading the repo")
    parser.add_argument("--json", help="write the summary here")
    args = parser.parse_args(argv)
    if args.json:  # never the saved `dvc exp show --json` read, only an earlier summary
        check_file(args.json, json_kind("seed summary", ("runs", "metrics")), inputs=[args.exp_show_json])
    exp_show = read_json(args.exp_show_json, "--exp_show_json") if args.exp_show_json else dvc_exp_show()
    if not isinstance(exp_show, list) or not all(isinstance(b, dict) for b in exp_show):
        raise InputError(f"--exp_show_json {args.exp_show_json} is not what `dvc exp show --json` prints "
                         "(a list of objects)")
    runs = experiment_metrics(exp_show)
    if args.exps:
        missing = [name for name in args.exps if name not in runs]
        if missing:
            raise InputError(f"experiments not found: {missing}; known: {sorted(runs)}")
        runs = {name: runs[name] for name in args.exps}
    summary = summarise(runs)
    print(f"{len(runs)} runs: {', '.join(sorted(runs))}")
    width = max(len(m) for m in summary)
    for metric, s in summary.items():
        print(f"{metric:<{width}}  {s['mean']:.6g} ± {s['std']:.3g}  (min {s['min']:.6g}, max {s['max']:.6g}, n {s['n']})")
    if args.json:
        write_json(args.json, {"runs": sorted(runs), "metrics": summary})
    return 0


if __name__ == "__main__":
    run_cli(main)
