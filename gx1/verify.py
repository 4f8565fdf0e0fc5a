"""Verify an entry_v10 bundle: the plan's five checks plus manifest, contract, config, scalers, weights, golden sample.

Run (the plan's command; the script is a thin wrapper over this module):
    python3 scripts/verify_entry_v10_ctx_bundle.py --bundle_dir models/entry_v10_ctx/bundle \
        --expected_hash <hash printed by training> [--report reports/verify.json]
    python3 -m gx1.verify --bundle_dir models/entry_v10_ctx/bundle   # expected hash: the pipeline's feature meta

One line per check: ``PASS name: values seen`` or ``FAIL name: values seen (expected ...)``; every
value read from the bundle is printed escaped (a file name cannot forge a line). Then an ``INFO
environment`` line when the bundle was made under other settings than this machine's (reported,
not failed). Exit 0 all passed, 1 a check failed, 2 bad usage or an unreadable bundle (no such
directory, no readable manifest.json).

The checks themselves are ``gx1.bundle.checks`` (imported at the first check, so ``--help`` and argument errors
answer before torch loads); this module is the command line and the --report JSON.
"""
from __future__ import annotations

from dataclasses import asdict

from gx1.common import ArgumentParser, CheckFailed, InputError, LazyModule, read_json, run_cli, write_json
from gx1.contract import HASH_PATTERN, contract_hash
from gx1.outputs import check_file, json_kind

checks = LazyModule("gx1.bundle.checks")  # torch loads at the first check, not for --help

DEFAULT_FEATURE_META = "gx1/models/entry_v9/nextgen_2020_2025_clean/entry_v9_feature_meta.json"
REPORT_KIND = json_kind("gx1.verify report", ("bundle_dir", "expected_hash", "all_passed", "checks"))  # --report overwrites


def report(results: list["checks.CheckResult"], bundle_dir: str, expected_hash: str) -> dict:
    """The --report JSON: deterministic (no timestamps)."""
    failed = [r.name for r in results if not r.passed]
    return {"bundle_dir": bundle_dir, "expected_hash": expected_hash, "all_passed": not failed, "n_checks": len(results),
            "n_failed": len(failed), "failed": failed, "checks": [asdict(r) for r in results]}


def expected_hash_from_meta(meta_path: str) -> str:
    try:
        return contract_hash(read_json(meta_path, "feature meta"))
    except InputError as exc:
        raise InputError(f"{exc}: pass --expected_hash HASH, or --feature_meta_path to the meta the pipeline "
                         "produced (python3 -m gx1.contract)") from None


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python3 -m gx1.verify", description=__doc__.splitlines()[0])
    parser.add_argument("--bundle_dir", required=True, help="bundle directory (gx1.bundle output or a training out_dir)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--expected_hash", help="feature contract hash the bundle must carry (16 hex digits)")
    source.add_argument("--feature_meta_path", default=DEFAULT_FEATURE_META,
                        help="when --expected_hash is omitted, expect the contract hash of this meta (default: %(default)s)")
    parser.add_argument("--report", help="write the results as JSON here (a DVC metric)")
    parser.add_argument("--expect_context", choices=("true", "false"), default="true",
                        help="true: the plan's values (v10_ctx, 5/2 context dims); false: a bundle trained without "
                             "context (v10, 0/0), as ENTRY_CONTEXT_FEATURES_ENABLED=false produces")
    args = parser.parse_args(argv)
    if args.report:  # never the bundle's own files, the feature meta read, or a file that is not a verify report
        check_file(args.report, REPORT_KIND, inputs=[args.feature_meta_path if args.expected_hash is None else None],
                   protect=[args.bundle_dir])
    expected = args.expected_hash.strip().lower() if args.expected_hash is not None else expected_hash_from_meta(args.feature_meta_path)
    if not HASH_PATTERN.fullmatch(expected):
        raise InputError(f"--expected_hash {args.expected_hash!r} is not 16 hex digits (training prints the hash)")
    results = checks.verify_bundle(args.bundle_dir, expected, expect_context=args.expect_context == "true")
    for result in results:
        print(result.line, flush=True)
    note = checks.environment_note(args.bundle_dir)
    if note:
        print(note, flush=True)
    summary = report(results, args.bundle_dir, expected)
    if args.report:
        write_json(args.report, summary)
    if summary["failed"]:
        raise CheckFailed(f"{summary['n_failed']} of {summary['n_checks']} checks failed ({', '.join(summary['failed'])}) "
                          f"for bundle {args.bundle_dir}")
    print(f"all {summary['n_checks']} checks passed for bundle {args.bundle_dir} (feature contract hash {expected})", flush=True)
    return 0


if __name__ == "__main__":
    run_cli(main)
