"""The walk-forward table: every fold's row (``gx1.walkforward``'s fold.json) in time order, with mean ± std.

Run (the `walkforward` stage of dvc.yaml; by hand the same):
    python3 -m gx1.walkforward_summary --folds_dir walkforward/folds --params params.yaml \\
        --out reports/walkforward/summary.json --table reports/walkforward/folds.tsv

With ``--params``, only the folds named in its ``walkforward.folds`` count: DVC leaves the folder of a fold
removed from params.yaml in place, and it is named on stderr and left out (a named fold without a folder
is an error: its stage has not run).

``summary.json`` holds the fold count and, per figure (out-of-sample direction AUC beside the one-feature
baseline's, the AUC lift over it with its 95 % interval, rank IC, early-move AUC, quality correlation, trades,
goes-against-us rate, MFE/MAE, net PnL after costs beside the baseline's with the lift's interval), the mean
and the standard deviation over folds, and ``rank_icir`` (mean rank IC / its standard deviation over folds;
null below two folds with an IC, absent without any); ``folds.tsv`` one row per fold, for
``dvc plots diff --targets reports/walkforward/folds.tsv -x start -y direction_auc``. No folds (the default
params) gives a count of 0 and a header-only table. Exit 2 for a malformed fold.json.
"""
from __future__ import annotations

import statistics
import sys
from pathlib import Path

from gx1.common import ArgumentParser, InputError, read_json_object, read_params_yaml, run_cli, write_json, write_tsv
from gx1.outputs import check_file, json_kind, tsv_kind
from gx1.walkforward import FOLD_FIGURES

COLUMNS = ("start", "end", "train_samples", "replayed_bars", "candidates", *FOLD_FIGURES)


def active_folds(params_path: str, folds_dir: Path) -> list[Path]:
    """The fold.json of each fold named in params.yaml's walkforward.folds."""
    section = read_params_yaml(params_path, "walkforward")
    folds = (section.get("folds") or {}) if isinstance(section, dict) else None
    if not isinstance(folds, dict):
        raise InputError(f"{params_path}: walkforward.folds must be a mapping of fold names to {{start, days}}")
    stale = sorted(p.parent.name for p in folds_dir.glob("*/fold.json") if p.parent.name not in folds)
    if stale:
        print(f"left out (not in {params_path} walkforward.folds any more): {stale}", file=sys.stderr)
    missing = [name for name in folds if not (folds_dir / str(name) / "fold.json").is_file()]
    if missing:
        raise InputError(f"folds {missing} are in {params_path} but have no {folds_dir}/<name>/fold.json: "
                         "run `dvc repro walkforward`")
    return [folds_dir / str(name) / "fold.json" for name in folds]


def summarise_folds(paths: list[Path], folds_dir: Path) -> tuple[dict, list[dict]]:
    """(summary, rows sorted by fold start) from the given fold.json files."""
    rows = [read_json_object(path, "walk-forward fold", keys=COLUMNS) for path in paths]
    rows.sort(key=lambda row: row["start"])
    starts = [row["start"] for row in rows]
    if len(set(starts)) != len(starts):
        twice = sorted({s for s in starts if starts.count(s) > 1})
        raise InputError(f"two folds in {folds_dir} start at the same time: {twice}")
    summary: dict = {"folds": len(rows)}
    for figure in FOLD_FIGURES:
        values = [row[figure] for row in rows if isinstance(row[figure], (int, float))]
        if values:
            summary[figure] = {"mean": round(statistics.fmean(values), 6),
                               "std": round(statistics.stdev(values), 6) if len(values) > 1 else 0.0}
    ics = [row["direction_rank_ic"] for row in rows if isinstance(row["direction_rank_ic"], (int, float))]
    if ics:  # mean IC / its std over folds (null below two folds with an IC, or when the ICs do not vary)
        spread = statistics.stdev(ics) if len(ics) > 1 else 0.0
        summary["rank_icir"] = round(statistics.fmean(ics) / spread, 6) if spread > 0 else None
    return summary, rows


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m gx1.walkforward_summary", description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds_dir", required=True, help="folder of fold folders (each with fold.json)")
    parser.add_argument("--out", required=True, help="summary JSON")
    parser.add_argument("--table", required=True, help="per-fold TSV")
    parser.add_argument("--params", help="params.yaml: count only the folds its walkforward.folds names")
    args = parser.parse_args(argv)
    folds_dir = Path(args.folds_dir)
    if not folds_dir.is_dir():
        raise InputError(f"{folds_dir} is not a folder of walk-forward folds")
    # never a fold's own file or params.yaml; only an earlier summary / table
    check_file(args.out, json_kind("walk-forward summary", ("folds",)), inputs=[args.params], protect=[folds_dir])
    check_file(args.table, tsv_kind("walk-forward table", "\t".join(COLUMNS)), inputs=[args.params], protect=[folds_dir])
    if Path(args.out).resolve() == Path(args.table).resolve():
        raise InputError(f"--out and --table are the same path {args.out}: give two files")
    paths = active_folds(args.params, folds_dir) if args.params else sorted(folds_dir.glob("*/fold.json"))
    summary, rows = summarise_folds(paths, folds_dir)
    write_tsv(args.table, {c: [row[c] if row[c] is not None else "" for row in rows] for c in COLUMNS})
    write_json(args.out, summary)
    for row in rows:
        print(f"{row['start']} .. {row['end']}: direction AUC {row['direction_auc']} (baseline "
              f"{row['direction_auc_baseline']}), early-move AUC {row['early_move_auc']}, {row['trades']} trades")
    auc = summary.get("direction_auc")
    print(f"{summary['folds']} folds" + (f": direction AUC {auc['mean']:.4f} ± {auc['std']:.4f}" if auc else "")
          + f" -> {args.out}, {args.table}")
    return 0


if __name__ == "__main__":
    run_cli(main)
