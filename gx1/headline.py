"""Join the train and replay headlines into reports/summary.json, the one file `dvc metrics diff` lists.

Run (the `headline` stage of dvc.yaml; by hand the same):
    python3 -m gx1.headline --train reports/train/summary.json --replay reports/replay/summary.json \
        --out reports/summary.json

Why one file: `dvc metrics diff` and `dvc exp show` order the rows of different metrics files by
Python set iteration, which changes with every process (PYTHONHASHSEED), while they sort the rows of
one file by key. One file with three groups makes the order fixed, and "quality" sorts first:
    quality.*  out-of-sample model quality: direction_auc, direction_auc_baseline (ema_slope_12_atr
               alone), direction_auc_lift (model - baseline) with its paired-bootstrap 95 % interval
               (direction_auc_lift_ci_low/high), direction_brier, direction_rank_ic, early_move_auc, quality_corr, and when
               val_days > 0 the validation window's (val_direction_auc, val_early_move_auc, val_quality_corr)
    replay.*   the replay week's trading figures (trades, goes_against, mfe_mae, net_pnl_bps after costs and
               net_pnl_bps_baseline with the lift's interval net_pnl_lift_ci_low/high, sharpe, hit_rate)
    train.*    the training run (epochs, heads_learned, train_loss, train_samples)
Every figure keeps the name it has in its stage's own summary.json. Exit 2 for a missing or malformed
input, or a figure both inputs claim.
"""
from __future__ import annotations

from gx1.common import ArgumentParser, InputError, read_json_object, run_cli, write_json
from gx1.outputs import check_file, json_kind

QUALITY_FIGURES = ("direction_auc", "direction_auc_baseline", "direction_auc_lift", "direction_auc_lift_ci_low",
                   "direction_auc_lift_ci_high", "direction_rank_ic", "direction_brier", "early_move_auc", "quality_corr", "val_direction_auc",
                   "val_early_move_auc", "val_quality_corr")


GROUPS = ("quality", "replay", "train")
# what --out overwrites: an earlier joined headline (groups of figures, nothing else)
OUT_KIND = json_kind("joined headline", check=lambda value: bool(value) and set(value) <= set(GROUPS)
                     and all(isinstance(v, dict) for v in value.values()))


def join_headlines(sources: dict[str, dict]) -> dict[str, dict]:
    """{"quality": model-quality figures of any source, <source>: the rest of that source's figures}."""
    joined: dict[str, dict] = {"quality": {}}
    for source, figures in sources.items():
        joined[source] = {}
        for name, value in figures.items():
            group = joined["quality"] if name in QUALITY_FIGURES else joined[source]
            if name in group:
                raise InputError(f"figure {name!r} is in more than one headline")
            group[name] = value
    return {group: dict(sorted(figures.items())) for group, figures in sorted(joined.items()) if figures}


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python3 -m gx1.headline", description=__doc__.splitlines()[0])
    parser.add_argument("--train", required=True, help="the trainer's summary.json")
    parser.add_argument("--replay", required=True, help="the replay's summary.json")
    parser.add_argument("--out", required=True, help="where to write the joined headline")
    args = parser.parse_args(argv)
    out = check_file(args.out, OUT_KIND, inputs=[args.train, args.replay])
    sources = {name: read_json_object(path, f"{name} headline")
               for name, path in (("train", args.train), ("replay", args.replay))}
    write_json(out, join_headlines(sources))
    return 0


if __name__ == "__main__":
    run_cli(main)
