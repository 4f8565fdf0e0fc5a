"""Verify an entry_v10 bundle: the plan's five checks (§5A) plus manifest, contract, config, scalers, weights, golden sample.

Run (the plan's command; the script is a thin wrapper over this module):
    python3 scripts/verify_entry_v10_ctx_bundle.py --bundle_dir models/entry_v10_ctx/bundle \
        --expected_hash 93ab1d31534f2dc7 [--report reports/verify.json]
    python3 -m gx1.verify --bundle_dir models/entry_v10_ctx/bundle   # expected hash: the pipeline's feature meta

One line per check: ``PASS name: values seen`` or ``FAIL name: values seen (expected ...)``.
Exit 0 all passed, 1 a check failed, 2 bad usage or an unreadable bundle (no such directory, no
readable manifest.json). ``--report`` writes the results as JSON (no timestamps: a DVC metric).

Safe loading: the manifest check reads every listed file once and hashes those bytes; later checks
use exactly those bytes. What builds or loads something runs only on files whose sha256 matched
the manifest: the model (from bundle_metadata.json's model_config), the scalers (pickles,
unpickled) and the weights (``torch.load(weights_only=True)``). JSON values are only compared,
so they are parsed and reported even from a file that did not match.

Unlisted files: a runtime loads only the listed names, but an unlisted file it *could* load
(``LOADABLE_SUFFIXES``, anywhere in the tree) fails the manifest check, except what a training
out_dir carries beside its bundle: ``metrics.json``, ``reproducible_metrics.json`` and the ``checkpoints/`` folder (resume state,
read only by the trainer, removed when training finishes). run_log.txt and *.tsv curves are not
loadable, so they are allowed like any other unlisted file; allowed extras are named in the detail.
"""
from __future__ import annotations

import io
import json
import math
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import joblib
import torch
from sklearn.preprocessing import StandardScaler

from gx1.common import ArgumentParser, CheckFailed, InputError, read_json, run_cli, sha256_bytes, write_json
from gx1.contract import contract_hash, contract_part
from gx1.models.entry_v10 import bundle_files as bf
from gx1.models.entry_v10.model import EntryV10Config, EntryV10Model

DEFAULT_FEATURE_META = "gx1/models/entry_v9/nextgen_2020_2025_clean/entry_v9_feature_meta.json"
MANIFEST_FORMAT = "gx1-bundle/1"
PLAN_VALUES = {"supports_context_features": True, "expected_ctx_cat_dim": 5, "expected_ctx_cont_dim": 2,
               "model_variant": "v10_ctx"}  # §5A "Must pass"
# The same checks for a bundle trained without context (ENTRY_CONTEXT_FEATURES_ENABLED=false), with --expect_context false.
NO_CONTEXT_VALUES = {"supports_context_features": False, "expected_ctx_cat_dim": 0, "expected_ctx_cont_dim": 0,
                     "model_variant": "v10"}
GOLDEN_ATOL = 1e-5  # a CUDA-trained bundle checked on CPU, or another thread count, differs by ~1e-7
LOADABLE_SUFFIXES = frozenset({".pt", ".pth", ".bin", ".ckpt", ".safetensors", ".onnx", ".joblib", ".pkl", ".pickle",
                               ".npz", ".npy", ".json"})
ALLOWED_EXTRA_FILES = frozenset({"metrics.json", "reproducible_metrics.json"})  # training reports, never loaded by a runtime
ALLOWED_EXTRA_DIRS = frozenset({"checkpoints"})     # training resume state
HASH_PATTERN = re.compile(r"[0-9a-f]{16}")
JSON_FILES = (bf.METADATA, bf.TRAIN_CONFIG, bf.META_NAME, bf.GOLDEN)
MAX_LISTED = 10


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str

    @property
    def line(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'} {self.name}: {self.detail}"


@dataclass
class BundleContents:
    """A bundle as the checks read it; loaded objects stay None until the check that loads them passes."""

    directory: Path
    manifest_files: dict[str, dict]
    manifest_format: Any = None
    blobs: dict[str, bytes] = field(default_factory=dict)     # listed files, as the manifest check read them
    verified: set[str] = field(default_factory=set)           # names whose bytes match the manifest sha256
    documents: dict[str, Any] = field(default_factory=dict)   # parsed JSON files and the hash file's text
    unreadable: dict[str, str] = field(default_factory=dict)  # name -> why it could not be read
    contract_hash: str | None = None
    skeleton: EntryV10Model | None = None                     # rebuilt from model_config, weights not loaded
    model: EntryV10Model | None = None                        # weights loaded strictly, eval mode
    seq_scaler: StandardScaler | None = None
    snap_scaler: StandardScaler | None = None

    def document(self, name: str) -> Any:
        """A parsed file; raises _Unreadable (reported as the check's FAIL) when it is missing or invalid."""
        if name not in self.documents:
            raise _Unreadable(f"{name} {self.unreadable.get(name, 'was not read')}")
        return self.documents[name]

    def verified_blob(self, name: str) -> bytes | None:
        """The bytes of a file whose sha256 matched the manifest, else None (never unpickle those)."""
        return self.blobs[name] if name in self.verified else None


class _Unreadable(Exception):
    """A file a check needs is missing or not valid JSON."""


def open_bundle(bundle_dir: str | Path) -> BundleContents:
    """Read manifest.json; InputError (exit 2) when the directory or its manifest cannot be read."""
    directory = Path(bundle_dir)
    if not directory.is_dir():
        raise InputError(f"bundle directory not found: {directory} (pass the out_dir of training or of gx1.bundle)")
    manifest_path = directory / bf.MANIFEST
    if not manifest_path.is_file():
        raise InputError(f"bundle {directory} has no {bf.MANIFEST}: not a complete bundle (finish training or rerun gx1.bundle)")
    manifest = read_json(manifest_path, "bundle manifest")
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not all(isinstance(e, dict) and isinstance(e.get("sha256"), str) for e in files.values()):
        raise InputError(f"{manifest_path} is not a bundle manifest (needs files: {{name: {{sha256}}}}): rerun gx1.bundle")
    return BundleContents(directory=directory, manifest_files=files, manifest_format=manifest.get("format"))


def check_manifest(contents: BundleContents) -> CheckResult:
    """Every bundle file listed, present, sha256 as listed; no unlisted file a runtime could load."""
    directory, files = contents.directory, contents.manifest_files
    problems = [f"{name} not listed" for name in bf.BUNDLE_FILES if name not in files]
    problems += [f"unknown listed file {name!r}" for name in sorted(files) if name not in bf.BUNDLE_FILES]
    for name in sorted(set(files) & set(bf.BUNDLE_FILES)):
        path = directory / name
        if not path.is_file():
            problems.append(f"{name} missing")
            contents.unreadable[name] = "is missing"
            continue
        blob = contents.blobs[name] = path.read_bytes()
        actual, listed = sha256_bytes(blob), files[name]["sha256"]
        if actual == listed:
            contents.verified.add(name)
        else:
            problems.append(f"{name} sha256 {actual[:16]}... != listed {listed[:16]}...")
    loadable, allowed = _unlisted_files(directory, set(files) | {bf.MANIFEST})
    problems += [f"unlisted loadable file {name}" for name in loadable]
    if contents.manifest_format != MANIFEST_FORMAT:
        problems.append(f"format {_show(contents.manifest_format)} is not {MANIFEST_FORMAT}")
    _parse_documents(contents)
    extras = f"; extras allowed: {_names(allowed)}" if allowed else ""
    if problems:
        return CheckResult("manifest", False, f"{_names(problems, '; ')}{extras} (expected every bundle file listed, "
                                              f"present, sha256 as listed, no unlisted loadable file)")
    return CheckResult("manifest", True, f"{len(files)} files, sha256 as listed{extras}")


def _unlisted_files(directory: Path, listed: set[str]) -> tuple[list[str], list[str]]:
    """(unlisted files a runtime could load, unlisted files allowed), as sorted relative paths."""
    loadable, allowed = [], []
    for root, _, filenames in os.walk(directory):  # symlinked folders are not followed
        for filename in filenames:
            relative = (Path(root) / filename).relative_to(directory)
            name = relative.as_posix()
            if name in listed:
                continue
            exempt = name in ALLOWED_EXTRA_FILES or relative.parts[0] in ALLOWED_EXTRA_DIRS
            (loadable if relative.suffix.lower() in LOADABLE_SUFFIXES and not exempt else allowed).append(name)
    return sorted(loadable), sorted(allowed)


def _parse_documents(contents: BundleContents) -> None:
    for name in JSON_FILES + (bf.HASH_FILE,):
        if name not in contents.blobs:
            contents.unreadable.setdefault(name, "is missing")
            continue
        try:
            text = contents.blobs[name].decode("utf-8")
            contents.documents[name] = text.strip() if name == bf.HASH_FILE else json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            contents.unreadable[name] = f"is not valid {'text' if name == bf.HASH_FILE else 'JSON'} ({exc})"
            continue
        if name != bf.HASH_FILE and not isinstance(contents.documents[name], dict):
            contents.unreadable[name] = "is not a JSON object"
            del contents.documents[name]


def plan_value_check(key: str, context: bool = True) -> Callable[[BundleContents], CheckResult]:
    """One of the §5A checks on a bundle_metadata.json value (JSON type included: 5.0 is not 5)."""
    expected = (PLAN_VALUES if context else NO_CONTEXT_VALUES)[key]

    def check(contents: BundleContents) -> CheckResult:
        metadata = contents.document(bf.METADATA)
        if key not in metadata:
            return CheckResult(key, False, f"absent from {bf.METADATA} (expected {_show(expected)})")
        seen = metadata[key]
        if type(seen) is type(expected) and seen == expected:
            return CheckResult(key, True, _show(seen))
        return CheckResult(key, False, f"{_show(seen)} (expected {_show(expected)})")
    return check


def hash_check(expected_hash: str) -> Callable[[BundleContents], CheckResult]:
    """§5A: feature_contract_hash.txt and bundle_metadata.json both name the expected contract."""
    def check(contents: BundleContents) -> CheckResult:
        seen = {bf.HASH_FILE: contents.document(bf.HASH_FILE),
                bf.METADATA: contents.document(bf.METADATA).get("feature_contract_hash")}
        values = set(map(str, seen.values()))
        detail = (f"{values.pop()} ({bf.HASH_FILE} and {bf.METADATA})" if len(values) == 1
                  else ", ".join(f"{k} {_show(v)}" for k, v in seen.items()))
        passed = all(v == expected_hash for v in seen.values())
        return CheckResult("feature_contract_hash", passed, detail if passed else f"{detail} (expected {expected_hash})")
    return check


def check_contract(contents: BundleContents) -> CheckResult:
    """The feature meta's recomputed contract hash equals the hash file, the metadata's and the meta's own."""
    meta = contents.document(bf.META_NAME)
    recomputed = contract_hash(meta)
    seen = {bf.HASH_FILE: contents.document(bf.HASH_FILE),
            bf.METADATA: contents.document(bf.METADATA).get("feature_contract_hash")}
    if "feature_contract_hash" in meta:
        seen["the meta's recorded hash"] = meta["feature_contract_hash"]
    if all(v == recomputed for v in seen.values()):
        contents.contract_hash = recomputed
        return CheckResult("contract", True, f"{recomputed} recomputed from {bf.META_NAME} = {' = '.join(seen)}")
    others = ", ".join(f"{k} {_show(v)}" for k, v in seen.items())
    return CheckResult("contract", False, f"{recomputed} recomputed from {bf.META_NAME}, {others} (expected all equal)")


def check_model_config(contents: BundleContents) -> CheckResult:
    """The model rebuilds from bundle_metadata.json's model_config, which agrees with the meta, train config and metadata."""
    metadata, meta = contents.document(bf.METADATA), contents.document(bf.META_NAME)
    if bf.METADATA not in contents.verified:
        return CheckResult("model_config", False, f"not rebuilt: {bf.METADATA} did not pass the manifest check")
    raw = metadata.get("model_config")
    try:
        cfg = EntryV10Config(**raw)
        with torch.random.fork_rng(devices=[]):  # building the skeleton must not move the caller's RNG
            contents.skeleton = EntryV10Model(cfg)
    except (TypeError, ValueError, RuntimeError) as exc:
        return CheckResult("model_config", False, f"{bf.METADATA} model_config does not build EntryV10Model: {exc} "
                                                  "(expected a complete EntryV10Config)")
    contract = contract_part(meta)
    cat_cards = [c["cardinality"] for c in contract["ctx_cat_features"]]
    context = cfg.use_context
    wanted = {  # what: (seen, expected)
        f"{bf.TRAIN_CONFIG} model": (contents.document(bf.TRAIN_CONFIG).get("model"), raw),
        f"{bf.METADATA} seq_len": (metadata.get("seq_len"), cfg.seq_len),
        "n_seq_features": (cfg.n_seq_features, len(contract["seq_features"])),
        "n_snap_features": (cfg.n_snap_features, len(contract["snap_features"])),
        "ctx_cat_cardinalities": (cfg.ctx_cat_cardinalities, cat_cards if context else cfg.ctx_cat_cardinalities),
        "n_ctx_cont": (cfg.n_ctx_cont, len(contract["ctx_cont_features"]) if context else cfg.n_ctx_cont),
        f"{bf.METADATA} supports_context_features": (metadata.get("supports_context_features"), context),
        f"{bf.METADATA} model_variant": (metadata.get("model_variant"), "v10_ctx" if context else "v10"),
        f"{bf.METADATA} expected_ctx_cat_dim": (metadata.get("expected_ctx_cat_dim"), len(cfg.ctx_cat_cardinalities) if context else 0),
        f"{bf.METADATA} expected_ctx_cont_dim": (metadata.get("expected_ctx_cont_dim"), cfg.n_ctx_cont if context else 0),
    }
    problems = [f"{what} {_show(seen, 60)} != {_show(expected, 60)}" for what, (seen, expected) in wanted.items() if seen != expected]
    summary = (f"seq_len {cfg.seq_len}, {cfg.n_seq_features} seq + {cfg.n_snap_features} snap features, context "
               f"{f'{len(cfg.ctx_cat_cardinalities)} cat + {cfg.n_ctx_cont} cont' if context else 'off'}, "
               f"d_model {cfg.d_model}, {cfg.n_layers} layers")
    if problems:
        return CheckResult("model_config", False, f"{summary}; {_names(problems, '; ')} (expected the model config to agree "
                                                  f"with {bf.META_NAME}, {bf.TRAIN_CONFIG} and {bf.METADATA})")
    return CheckResult("model_config", True, f"{summary}; agrees with {bf.META_NAME}, {bf.TRAIN_CONFIG}, {bf.METADATA}")


def check_scalers(contents: BundleContents) -> CheckResult:
    """Each scaler (unpickled only after its sha256 matched the manifest) fits the meta's feature count."""
    meta = contents.document(bf.META_NAME)
    contract, recorded = contract_part(meta), meta.get("scalers", {})
    seen, problems = [], []
    for kind, name, features in (("seq", bf.SEQ_SCALER_NAME, "seq_features"), ("snap", bf.SNAP_SCALER_NAME, "snap_features")):
        blob = contents.verified_blob(name)
        if blob is None:
            problems.append(f"{name} not unpickled: it did not pass the manifest check")
            continue
        recorded_sha = recorded.get(kind, {}).get("sha256")
        if recorded_sha != sha256_bytes(blob):
            recorded_text = f"{recorded_sha[:16]}..." if isinstance(recorded_sha, str) else _show(recorded_sha)
            problems.append(f"{name} sha256 {sha256_bytes(blob)[:16]}... != {recorded_text} recorded in {bf.META_NAME}")
        try:
            scaler = joblib.load(io.BytesIO(blob))  # sha256 matched the manifest
        except Exception as exc:  # any unpickling error is reported, not raised
            problems.append(f"{name} cannot be unpickled: {type(exc).__name__}: {_first_line(exc)}")
            continue
        n_in = getattr(scaler, "n_features_in_", None)
        if not isinstance(scaler, StandardScaler) or n_in is None:
            problems.append(f"{name} is a {type(scaler).__name__}, not a fitted StandardScaler")
            continue
        expected = len(contract[features])
        seen.append(f"{kind} n_features_in_ {n_in}")
        if n_in != expected or len(scaler.mean_) != expected or len(scaler.scale_) != expected:
            problems.append(f"{kind} scaler n_features_in_ {n_in} != {expected} {features} in {bf.META_NAME}")
        setattr(contents, f"{kind}_scaler", scaler)
    if problems:
        contents.seq_scaler = contents.snap_scaler = None
        return CheckResult("scalers", False, f"{_names(seen + problems, '; ')} (expected fitted StandardScalers matching "
                                             f"the feature meta's feature counts and sha256)")
    return CheckResult("scalers", True, f"{', '.join(seen)}; match {bf.META_NAME} (feature counts and sha256)")


def check_weights(contents: BundleContents) -> CheckResult:
    """torch.load(weights_only=True) of verified bytes, loaded strictly into the model rebuilt from model_config."""
    blob = contents.verified_blob(bf.WEIGHTS)
    if blob is None:
        return CheckResult("weights", False, f"not loaded: {bf.WEIGHTS} did not pass the manifest check")
    if contents.skeleton is None:
        return CheckResult("weights", False, "not loaded: no model rebuilt from model_config (see model_config)")
    try:
        state = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupt archive raises many types; report it
        return CheckResult("weights", False, f"torch.load(weights_only=True) failed: {type(exc).__name__}: {_first_line(exc)} "
                                             "(expected a readable state dict)")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        return CheckResult("weights", False, f"{bf.WEIGHTS} holds a {type(state).__name__}, not a state dict of tensors")
    model_state = contents.skeleton.state_dict()
    missing = sorted(set(model_state) - set(state))
    unexpected = sorted(set(state) - set(model_state))
    common = sorted(set(state) & set(model_state))
    shapes = [f"{k} {tuple(state[k].shape)} != {tuple(model_state[k].shape)}" for k in common
              if state[k].shape != model_state[k].shape]
    non_finite = [k for k in common if state[k].is_floating_point() and not bool(torch.isfinite(state[k]).all())]
    if missing or unexpected or shapes or non_finite:
        parts = [f"{what} [{_names(keys)}]" for what, keys in (("missing keys", missing), ("unexpected keys", unexpected),
                 ("shape mismatches", shapes), ("non-finite tensors", non_finite)) if keys]
        return CheckResult("weights", False, f"{'; '.join(parts)} (expected exactly the model's {len(model_state)} "
                                             "tensors with their shapes, finite)")
    contents.skeleton.load_state_dict(state, strict=True)
    contents.model = contents.skeleton.eval()
    values = sum(t.numel() for t in state.values())
    return CheckResult("weights", True, f"{len(state)} tensors, {values} values loaded strictly (weights_only=True)")


def check_golden_sample(contents: BundleContents) -> CheckResult:
    """The rebuilt model reproduces the stored outputs for the stored inputs."""
    if contents.model is None:
        return CheckResult("golden_sample", False, "not run: no model with loaded weights (see weights)")
    golden = contents.document(bf.GOLDEN)
    seq, snap, ctx_cont, stored = (torch.tensor(golden[k], dtype=torch.float32) for k in ("seq", "snap", "ctx_cont", "outputs"))
    ctx_cat = torch.tensor(golden["ctx_cat"], dtype=torch.int64)
    if len(stored) == 0 or stored.shape != (len(seq), 3):
        return CheckResult("golden_sample", False, f"outputs shape {tuple(stored.shape)} (expected (n >= 1, 3) for {len(seq)} inputs)")
    with torch.no_grad():
        outputs = contents.model(seq, snap, ctx_cat, ctx_cont)
    diff = float((outputs - stored).abs().max())
    detail = f"{len(stored)} samples, max abs diff {diff:.2e}"
    if math.isfinite(diff) and diff <= GOLDEN_ATOL:
        return CheckResult("golden_sample", True, f"{detail} (tolerance {GOLDEN_ATOL:g})")
    return CheckResult("golden_sample", False, f"{detail} (expected <= {GOLDEN_ATOL:g})")


INTEGRITY_CHECKS: tuple[tuple[str, Callable[[BundleContents], CheckResult]], ...] = (
    ("contract", check_contract), ("model_config", check_model_config), ("scalers", check_scalers),
    ("weights", check_weights), ("golden_sample", check_golden_sample))


def _checks(expected_hash: str | None, plan: bool, context: bool = True) -> list[tuple[str, Callable[[BundleContents], CheckResult]]]:
    """manifest first; the §5A checks in the plan's order (when ``plan``); then the integrity checks."""
    checks: list[tuple[str, Callable[[BundleContents], CheckResult]]] = [("manifest", check_manifest)]
    if plan:
        checks += [(key, plan_value_check(key, context)) for key in ("supports_context_features", "expected_ctx_cat_dim",
                                                                      "expected_ctx_cont_dim")]
    if expected_hash is not None:
        checks.append(("feature_contract_hash", hash_check(expected_hash)))
    if plan:
        checks.append(("model_variant", plan_value_check("model_variant", context)))
    return checks + list(INTEGRITY_CHECKS)


def _run(name: str, check: Callable[[BundleContents], CheckResult], contents: BundleContents) -> CheckResult:
    """Run one check; a file it needs that is unreadable or malformed makes it FAIL, not crash."""
    try:
        return check(contents)
    except _Unreadable as exc:
        return CheckResult(name, False, f"cannot be checked: {exc}")
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError, InputError) as exc:
        return CheckResult(name, False, f"cannot be checked: malformed bundle file ({type(exc).__name__}: {_first_line(exc)})")


def verify_bundle(bundle_dir: str | Path, expected_hash: str, expect_context: bool = True) -> list[CheckResult]:
    """Every check, in order: manifest, the five §5A checks, contract, model_config, scalers, weights, golden_sample."""
    contents = open_bundle(bundle_dir)
    return [_run(name, check, contents) for name, check in _checks(expected_hash, plan=True, context=expect_context)]


def load_checked(bundle_dir: str | Path, expected_hash: str | None = None) -> BundleContents:
    """For runtimes: the integrity checks in order; InputError naming the first that fails. Returns the loaded bundle."""
    contents = open_bundle(bundle_dir)
    for name, check in _checks(expected_hash, plan=False):
        result = _run(name, check, contents)
        if not result.passed:
            raise InputError(f"{name} check failed: {result.detail} (bundle {contents.directory})")
    return contents


def report(results: list[CheckResult], bundle_dir: str, expected_hash: str) -> dict:
    """The --report JSON: deterministic (no timestamps)."""
    failed = [r.name for r in results if not r.passed]
    return {"bundle_dir": bundle_dir, "expected_hash": expected_hash, "all_passed": not failed, "n_checks": len(results),
            "n_failed": len(failed), "failed": failed, "checks": [asdict(r) for r in results]}


def _show(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) or not HASH_PATTERN.fullmatch(value) else value
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _names(items: list[str], sep: str = ", ") -> str:
    more = f"{sep}+{len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
    return sep.join(items[:MAX_LISTED]) + more


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else "")[:200]


def expected_hash_from_meta(meta_path: str) -> str:
    try:
        return contract_hash(read_json(meta_path, "feature meta"))
    except InputError as exc:
        raise InputError(f"{exc}: pass --expected_hash HASH, or --feature_meta_path to the meta the pipeline "
                         "produced (python3 -m gx1.contract)") from None


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle_dir", required=True, help="bundle directory (gx1.bundle output or a training out_dir)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--expected_hash", help="feature contract hash the bundle must carry (16 hex digits)")
    source.add_argument("--feature_meta_path", default=DEFAULT_FEATURE_META,
                        help="when --expected_hash is omitted, expect the contract hash of this meta (default: %(default)s)")
    parser.add_argument("--report", help="write the results as JSON here (a DVC metric)")
    parser.add_argument("--expect_context", choices=("true", "false"), default="true",
                        help="true: the plan's §5A values (v10_ctx, 5/2 context dims); false: a bundle trained without "
                             "context (v10, 0/0), as ENTRY_CONTEXT_FEATURES_ENABLED=false produces")
    args = parser.parse_args(argv)
    expected = args.expected_hash.strip().lower() if args.expected_hash is not None else expected_hash_from_meta(args.feature_meta_path)
    if not HASH_PATTERN.fullmatch(expected):
        raise InputError(f"--expected_hash {args.expected_hash!r} is not 16 hex digits (training prints the hash)")
    results = verify_bundle(args.bundle_dir, expected, expect_context=args.expect_context == "true")
    for result in results:
        print(result.line, flush=True)
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
