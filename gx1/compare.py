"""Compare two replay reports: baseline (smoke bundle) vs candidate (full-year bundle).

Run:
    python3 -m gx1.compare --baseline smoke --candidate fullyear      # two DVC experiments (or git revisions)
    python3 -m gx1.compare --baseline reports/replay_smoke/replay.json --candidate reports/replay/replay.json
    python3 -m gx1.compare --baseline A/replay.json --candidate B/replay.json --count_tolerance 0.2 --json cmp.json

Prints one line per figure of the plan's replay comparison with baseline, candidate, change, the plan's expectation and a
verdict: OK when the candidate meets the expectation within the tolerance, CHECK when it does not,
n/a when a side has no value (no trades). Tolerances (relative ones are fractions of |baseline|):
  counts   (n_candidates, n_trades_created): --count_tolerance, relative, default 0.25;
           "similar or lower": candidate <= baseline * (1 + tol); "similar": |change| <= tol * baseline
           (a baseline of 0 is matched only by 0)
  quality  (MAE/MFE means in bps and ATR, MFE/MAE ratio): --quality_tolerance, relative, default 0.10;
           "similar or better": MAE at most tol worse (higher), MFE and the ratio at most tol worse (lower)
  rates    (goes_against_us_rate): --rate_tolerance, absolute, default 0.05; candidate <= baseline + tol
  AUC      (model_quality: direction and early-move AUC on the replayed bars): absolute 0.01;
           candidate >= baseline - tol
Notes say when a bundle was trained on its own replay window (in-sample figures) and when a side made
no trades (its entry-quality rows are n/a).
The comparison is informative: exit 0 whatever the verdicts; 2 for a missing or malformed report, or a
``--json`` path that is one of the reports (or any file but an earlier comparison: ``gx1.outputs``).
``dvc metrics diff`` shows the same figures from replay.json.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from gx1.common import ArgumentParser, InputError, read_json, run_cli, write_json
from gx1.outputs import check_file, json_kind

JSON_KIND = json_kind("gx1.compare table", ("baseline", "candidate", "tolerances", "rows", "notes"))  # --json overwrites


@dataclass(frozen=True)
class Figure:
    key: str          # path in replay.json, dot-separated
    expectation: str  # the plan's words
    better: str       # "lower", "higher" or "" (similar only)
    kind: str         # "count", "quality" or "rate": which tolerance applies


FIGURES = (
    Figure("model_quality.direction_auc", "similar or better", "higher", "auc"),
    Figure("model_quality.early_move_auc", "similar or better", "higher", "auc"),
    Figure("n_candidates", "similar or lower", "lower", "count"),
    Figure("n_trades_created", "similar", "", "count"),
    Figure("entry_quality.mae_bps_mean", "similar or better", "lower", "quality"),
    Figure("entry_quality.mfe_bps_mean", "similar or better", "higher", "quality"),
    Figure("entry_quality.mae_atr_mean", "similar or better", "lower", "quality"),
    Figure("entry_quality.mfe_atr_mean", "similar or better", "higher", "quality"),
    Figure("entry_quality.mfe_mae_ratio", "similar or better", "higher", "quality"),
    Figure("goes_against_us_rate", "similar or better", "lower", "rate"),
)


@dataclass
class Tolerances:
    count: float = 0.25    # relative
    quality: float = 0.10  # relative
    rate: float = 0.05     # absolute
    auc: float = 0.01      # absolute


def lookup(report: dict, key: str, source: str):
    value = report
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            raise InputError(f"{source} has no {key!r}: is it a replay.json written by `python -m gx1.replay`?")
        value = value[part]
    if value is not None and not isinstance(value, (int, float)):
        raise InputError(f"{source}: {key} is {value!r}, expected a number or null")
    return value


def verdict(figure: Figure, baseline: float | None, candidate: float | None, tol: Tolerances) -> str:
    if baseline is None or candidate is None:
        return "n/a"
    absolute = {"rate": tol.rate, "auc": tol.auc}
    slack = absolute[figure.kind] if figure.kind in absolute else \
        (tol.count if figure.kind == "count" else tol.quality) * abs(baseline)
    change = candidate - baseline
    if figure.better == "lower":
        ok = change <= slack
    elif figure.better == "higher":
        ok = change >= -slack
    else:
        ok = abs(change) <= slack
    return "OK" if ok else "CHECK"


def compare(baseline: dict, candidate: dict, tol: Tolerances, names: tuple[str, str] = ("baseline", "candidate")) -> dict:
    """Rows of the comparison table plus notes on anything that makes the two reports less comparable."""
    rows = []
    for figure in FIGURES:
        base, cand = lookup(baseline, figure.key, names[0]), lookup(candidate, figure.key, names[1])
        change = None if base is None or cand is None else round(cand - base, 6)
        relative = round(change / abs(base), 6) if change is not None and base else None
        rows.append({"metric": figure.key.split(".")[-1], "key": figure.key, "baseline": base, "candidate": cand,
                     "change": change, "relative_change": relative, "expectation": figure.expectation,
                     "verdict": verdict(figure, base, cand, tol)})
    notes = []
    for part, what in (("window", "replay windows"), ("policy", "policy knobs")):
        base, cand = baseline.get(part) or {}, candidate.get(part) or {}
        differing = [f"{key} {base.get(key)} vs {cand.get(key)}" for key in sorted(set(base) | set(cand))
                     if base.get(key) != cand.get(key)]
        if differing:
            notes.append(f"the {what} differ ({'; '.join(differing)}): not a like-for-like comparison")
    for name, report in zip(names, (baseline, candidate)):
        if report.get("window_overlaps_training"):
            notes.append(f"{name}'s bundle was trained on bars of its replay window: its figures are in sample, not a test")
        if report.get("n_trades_created") == 0:
            notes.append(f"{name} made no trades: its entry-quality figures are empty (n/a), so only the counts compare; "
                         "the policy thresholds (params.yaml replay:) decide how many bars trade")
    hashes = [r.get("bundle", {}).get("feature_contract_hash") for r in (baseline, candidate)]
    if hashes[0] != hashes[1]:
        notes.append(f"the bundles have different feature contracts ({hashes[0]} vs {hashes[1]})")
    return {"tolerances": asdict(tol), "rows": rows, "notes": notes}


def _cell(value) -> str:
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.4f}"


def format_table(result: dict) -> str:
    header = ("metric", "baseline", "candidate", "change", "expectation", "verdict")
    lines = [header]
    for row in result["rows"]:
        change = _cell(row["change"])
        if row["change"] is not None and not change.startswith("-"):
            change = "+" + change
        if row["relative_change"] is not None:
            change += f" ({row['relative_change']:+.0%})"
        lines.append((row["metric"], _cell(row["baseline"]), _cell(row["candidate"]), change, row["expectation"], row["verdict"]))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines]
    tol = result["tolerances"]
    text.append(f"tolerances: counts ±{tol['count']:.0%} relative, entry quality {tol['quality']:.0%} relative, "
                f"rates ±{tol['rate']} absolute, AUC {tol['auc']} absolute")
    text += [f"note: {note}" for note in result["notes"]]
    return "\n".join(text)


PIPELINE_REPORT = "reports/replay/replay.json"


def load_report(source: str, role: str) -> dict:
    """A replay.json path, or else a DVC experiment / git revision whose pipeline replay report is read."""
    if Path(source).exists() or source.endswith(".json"):
        return read_json(source, f"{role} replay report")
    import dvc.api
    from dvc.exceptions import DvcException
    try:
        return json.loads(dvc.api.read(PIPELINE_REPORT, rev=source))
    except (DvcException, FileNotFoundError, json.JSONDecodeError) as exc:
        raise InputError(f"{role} {source!r} is neither a replay.json file nor a DVC experiment/revision with "
                         f"{PIPELINE_REPORT} ({type(exc).__name__}: {str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ''})") from None


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value < 10:
        raise argparse.ArgumentTypeError(f"must be in [0, 10), got {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python3 -m gx1.compare", description=__doc__.split("\n\n")[0],
                     epilog=__doc__.split("\n\n", 2)[2], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", required=True,
                        help="replay.json of the baseline (e.g. the smoke bundle), or a DVC experiment/revision name")
    parser.add_argument("--candidate", required=True,
                        help="replay.json of the candidate (e.g. the full-year bundle), or a DVC experiment/revision name")
    parser.add_argument("--count_tolerance", type=_fraction, default=Tolerances.count, help="relative (default 0.25)")
    parser.add_argument("--quality_tolerance", type=_fraction, default=Tolerances.quality, help="relative (default 0.10)")
    parser.add_argument("--rate_tolerance", type=_fraction, default=Tolerances.rate, help="absolute (default 0.05)")
    parser.add_argument("--json", default="", help="also write the table as JSON here")
    args = parser.parse_args(argv)
    if args.json:  # never one of the reports compared, never a file that is not a comparison gx1 wrote
        check_file(args.json, JSON_KIND, inputs=[args.baseline, args.candidate])
    tol = Tolerances(args.count_tolerance, args.quality_tolerance, args.rate_tolerance)
    baseline = load_report(args.baseline, "baseline")
    candidate = load_report(args.candidate, "candidate")
    result = compare(baseline, candidate, tol, (args.baseline, args.candidate))
    print(f"replay comparison: baseline {args.baseline} vs candidate {args.candidate}")
    print(format_table(result), flush=True)
    if args.json:
        write_json(args.json, {"baseline": args.baseline, "candidate": args.candidate, **result})
    return 0


if __name__ == "__main__":
    run_cli(main)
