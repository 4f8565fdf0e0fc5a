"""The bundle checks: the plan's five plus manifest, contract, model config, scalers, weights, golden sample.

    results = verify_bundle("models/entry_v10_ctx/bundle", expected_hash)   # every check, in order
    failure = integrity_failure(open_bundle(directory))                     # the first integrity check that fails, or None

``python3 -m gx1.verify`` prints them (one line per check); ``gx1.bundle.load`` and ``gx1.bundle.assemble`` load or
copy only a bundle that passes the integrity checks. Each check is a pure function of the bytes
``read.open_bundle`` read once, and loads what it needs through ``gx1.bundle.loaders`` (nothing is kept between
checks, so their order does not matter). A problem in a bundle file is a FAIL; any other exception is a bug
and crashes. Unlisted files: a runtime loads only the bundle files, but any other file it *could* load
(``format.LOADABLE_SUFFIXES``, anywhere in the tree) fails the manifest check, except a training out_dir's own
reports (metrics JSON), which are named in the detail.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from gx1.bundle.format import (
    BUNDLE_FILES, HASH_FILE, JSON_FILES, MANIFEST_FORMAT, METADATA, SEQ_SCALER_NAME, SNAP_SCALER_NAME,
)
from gx1.bundle.limits import BundleError
from gx1.bundle import loaders
from gx1.bundle.read import OpenedBundle, loadable_extras, open_bundle
from gx1.common import InputError, printable, sha256_bytes
from gx1.contract import HASH_PATTERN, META_NAME, contract_hash
from gx1.models.entry_v10.inputs import predict_samples
from gx1.models.entry_v10.variant import variant_facts
from gx1.outputs import MARKER

PLAN_KEYS = ("supports_context_features", "expected_ctx_cat_dim", "expected_ctx_cont_dim", "model_variant")
GOLDEN_ATOL = 1e-5  # a CUDA-trained bundle checked on CPU differs by ~1e-7
MAX_LISTED = 10


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str

    @property
    def line(self) -> str:
        return printable(f"{'PASS' if self.passed else 'FAIL'} {self.name}: {self.detail}")


Check = Callable[[OpenedBundle], CheckResult]


def check_manifest(opened: OpenedBundle) -> CheckResult:
    """Every bundle file listed, present, a regular file, sha256 as listed, its JSON an object within bounds;
    nothing else listed; no unlisted file a runtime could load; the folder small enough to list
    (``limits.MAX_FOLDER_ENTRIES``)."""
    problems = [f"{name} not listed" for name in BUNDLE_FILES if name not in opened.listed]
    problems += [f"unknown listed file {_show(name)}" for name in opened.unlisted]
    problems += [f"{name} {why}" for name, why in sorted(opened.unreadable.items())]
    problems += [f"{name} sha256 does not match the manifest" for name in sorted(opened.blobs)
                 if name in opened.listed and name not in opened.verified]
    problems += _unreadable_documents(opened)
    loadable = loadable_extras(opened)  # once: linear in the files listed
    problems += [f"unlisted loadable file {_show(name)}" for name in loadable]
    if opened.overflow:
        problems.append(f"the folder was not listed to the end: {opened.overflow}")
    if opened.manifest_format != MANIFEST_FORMAT:
        problems.append(f"format {_show(opened.manifest_format)} is not {MANIFEST_FORMAT}")
    loadable_set = set(loadable)
    allowed = [name for name in opened.extras if name not in loadable_set and name != MARKER]  # MARKER: gx1.outputs
    extras = f"; other files: {_names([_show(n) for n in allowed])}" if allowed else ""
    if problems:
        return CheckResult("manifest", False, f"{_names(problems, '; ')}{extras} (expected every bundle file listed, "
                                              f"present, sha256 as listed, no unlisted loadable file)")
    return CheckResult("manifest", True, f"{len(opened.listed)} files, sha256 as listed{extras}")


def _unreadable_documents(opened: OpenedBundle) -> list[str]:
    """Why each JSON bundle file that matched the manifest is not a JSON object within the bounds every reader
    applies (``limits.parse_json``): a runtime reads all four, so verify fails what a runtime would refuse."""
    problems = []
    for name in JSON_FILES:
        if name in opened.verified:
            try:
                opened.document(name)
            except BundleError as exc:
                problems.append(str(exc))
    return problems


def plan_value_check(key: str, context: bool = True) -> Check:
    """One of the plan's five checks on a bundle_metadata.json value (JSON type included: 5.0 is not 5)."""
    expected = variant_facts(context, 5, 2)[key]

    def check(opened: OpenedBundle) -> CheckResult:
        metadata = opened.document(METADATA)
        if key not in metadata:
            return CheckResult(key, False, f"absent from {METADATA} (expected {_show(expected)})")
        seen = metadata[key]
        if type(seen) is type(expected) and seen == expected:
            return CheckResult(key, True, _show(seen))
        return CheckResult(key, False, f"{_show(seen)} (expected {_show(expected)})")
    return check


def hash_check(expected_hash: str) -> Check:
    """The plan's contract check: feature_contract_hash.txt and bundle_metadata.json both name the expected contract."""
    def check(opened: OpenedBundle) -> CheckResult:
        seen = {HASH_FILE: opened.hash_text(), METADATA: opened.document(METADATA).get("feature_contract_hash")}
        values = {_show(v) for v in seen.values()}
        detail = (f"{values.pop()} ({HASH_FILE} and {METADATA})" if len(values) == 1
                  else ", ".join(f"{k} {_show(v)}" for k, v in seen.items()))
        passed = all(v == expected_hash for v in seen.values())
        return CheckResult("feature_contract_hash", passed, detail if passed else f"{detail} (expected {expected_hash})")
    return check


def check_contract(opened: OpenedBundle) -> CheckResult:
    """The feature meta's recomputed contract hash equals the hash file's, the metadata's and the meta's own."""
    loaders.feature_contract(opened)
    meta = opened.document(META_NAME)
    recomputed = contract_hash(meta)
    seen = {HASH_FILE: opened.hash_text(), METADATA: opened.document(METADATA).get("feature_contract_hash"),
            "the meta's recorded hash": meta.get("feature_contract_hash")}
    if all(v == recomputed for v in seen.values()):
        return CheckResult("contract", True, f"{recomputed} recomputed from {META_NAME} = {' = '.join(seen)}")
    others = ", ".join(f"{k} {_show(v)}" for k, v in seen.items())
    return CheckResult("contract", False, f"{recomputed} recomputed from {META_NAME}, {others} (expected all equal)")


def check_model_config(opened: OpenedBundle) -> CheckResult:
    """The model config is complete and within bounds, and agrees with the feature meta and the plan's check keys."""
    cfg = loaders.model_config(opened)
    contract, metadata = loaders.feature_contract(opened), opened.document(METADATA)
    context = cfg.use_context
    facts = variant_facts(context, len(cfg.ctx_cat_cardinalities), cfg.n_ctx_cont)
    wanted = {  # what: (seen, expected)
        "n_seq_features": (cfg.n_seq_features, len(contract["seq_features"])),
        "n_snap_features": (cfg.n_snap_features, len(contract["snap_features"])),
        "ctx_cat_cardinalities": (cfg.ctx_cat_cardinalities, [c.get("cardinality") for c in contract["ctx_cat_features"]]
                                  if context else []),
        "n_ctx_cont": (cfg.n_ctx_cont, len(contract["ctx_cont_features"]) if context else 0),
        **{f"{METADATA} {key}": (metadata.get(key), value) for key, value in facts.items()},
    }
    problems = [f"{what} {_show(seen, 60)} != {_show(expected, 60)}" for what, (seen, expected) in wanted.items()
                if seen != expected]
    summary = (f"seq_len {cfg.seq_len}, {cfg.n_seq_features} seq + {cfg.n_snap_features} snap features, context "
               f"{f'{len(cfg.ctx_cat_cardinalities)} cat + {cfg.n_ctx_cont} cont' if context else 'off'}, "
               f"d_model {cfg.d_model}, {cfg.n_layers} layers")
    if problems:
        return CheckResult("model_config", False, f"{summary}; {_names(problems, '; ')} (expected the model config to agree "
                                                  f"with {META_NAME} and the {METADATA} keys)")
    return CheckResult("model_config", True, f"{summary}; agrees with {META_NAME} and {METADATA}")


def check_scalers(opened: OpenedBundle) -> CheckResult:
    """Each scaler loads through the allow-list, fits the meta's feature count and has the sha256 the meta records."""
    contract, recorded = loaders.feature_contract(opened), opened.document(META_NAME).get("scalers")
    seen, problems = [], []
    for kind, name, features in (("seq", SEQ_SCALER_NAME, "seq_features"), ("snap", SNAP_SCALER_NAME, "snap_features")):
        try:
            scaler = loaders.scaler(opened, name)
        except BundleError as exc:
            problems.append(str(exc))
            continue
        entry = recorded.get(kind) if isinstance(recorded, dict) else None
        if not isinstance(entry, dict) or entry.get("sha256") != sha256_bytes(opened.blobs[name]):
            problems.append(f"{name} sha256 differs from the one recorded in {META_NAME}")
        seen.append(f"{kind} n_features_in_ {scaler.n_features_in_}")
        if scaler.n_features_in_ != len(contract[features]):
            problems.append(f"{kind} scaler n_features_in_ {scaler.n_features_in_} != {len(contract[features])} {features}")
    if problems:
        return CheckResult("scalers", False, f"{_names(seen + problems, '; ')} (expected fitted StandardScalers matching "
                                             f"the feature meta's feature counts and sha256)")
    return CheckResult("scalers", True, f"{', '.join(seen)}; match {META_NAME} (feature counts and sha256), allow-list loaded")


def check_weights(opened: OpenedBundle) -> CheckResult:
    """torch.load(weights_only=True) of verified bytes, loaded strictly into the model rebuilt from model_config."""
    state = loaders.model(opened).state_dict()
    values = sum(t.numel() for t in state.values())
    return CheckResult("weights", True, f"{len(state)} tensors, {values} values loaded strictly (weights_only=True)")


def check_golden_sample(opened: OpenedBundle) -> CheckResult:
    """The rebuilt model reproduces the stored outputs for the stored inputs."""
    model = loaders.model(opened)
    seq, snap, ctx_cat, ctx_cont, stored = loaders.golden_inputs(opened, model.cfg)
    outputs = predict_samples(model, seq, snap, ctx_cat, ctx_cont)
    diff = float((outputs - stored).abs().max())
    detail = f"{len(stored)} samples, max abs diff {diff:.2e}"
    if math.isfinite(diff) and diff <= GOLDEN_ATOL:
        return CheckResult("golden_sample", True, f"{detail} (tolerance {GOLDEN_ATOL:g})")
    return CheckResult("golden_sample", False, f"{detail} (expected <= {GOLDEN_ATOL:g})")


INTEGRITY_CHECKS: tuple[tuple[str, Check], ...] = (
    ("manifest", check_manifest), ("contract", check_contract), ("model_config", check_model_config),
    ("scalers", check_scalers), ("weights", check_weights), ("golden_sample", check_golden_sample))


def _checks(expected_hash: str | None, plan: bool, context: bool = True) -> list[tuple[str, Check]]:
    """manifest first; the plan's five checks in its order (when ``plan``); then the other integrity checks."""
    checks: list[tuple[str, Check]] = [INTEGRITY_CHECKS[0]]
    if plan:
        checks += [(key, plan_value_check(key, context)) for key in PLAN_KEYS[:3]]
    if expected_hash is not None:
        checks.append(("feature_contract_hash", hash_check(expected_hash)))
    if plan:
        checks.append(("model_variant", plan_value_check("model_variant", context)))
    return checks + list(INTEGRITY_CHECKS[1:])


def _run(name: str, check: Check, opened: OpenedBundle) -> CheckResult:
    """Run one check; a bundle file it needs that is missing, malformed or refused makes it FAIL (a bug crashes)."""
    try:
        return check(opened)
    except BundleError as exc:
        return CheckResult(name, False, f"cannot be checked: {exc}")


def verify_bundle(bundle_dir: str | Path, expected_hash: str, expect_context: bool = True) -> list[CheckResult]:
    """Every check, in order: manifest, the plan's five checks, contract, model_config, scalers, weights, golden_sample."""
    opened = open_bundle(bundle_dir)
    return [_run(name, check, opened) for name, check in _checks(expected_hash, plan=True, context=expect_context)]


def integrity_failure(opened: OpenedBundle, expected_hash: str | None = None) -> CheckResult | None:
    """The first integrity check that fails (runtimes load only a bundle that passes them all), or None."""
    for name, check in _checks(expected_hash, plan=False):
        result = _run(name, check, opened)
        if not result.passed:
            return result
    return None


def environment_note(bundle_dir: str | Path) -> str | None:
    """An INFO line when the bundle's recorded environment differs from this machine's (never a failure)."""
    from gx1.cpu import machine_facts, pinned_values, reproducibility_mode
    try:
        recorded = open_bundle(bundle_dir).document(METADATA).get("environment")
    except InputError:
        return None
    if not isinstance(recorded, dict):
        return None
    here = {"torch": torch.__version__, "reproducibility": reproducibility_mode(), "cpu_pins": pinned_values(),
            **{k: v for k, v in machine_facts().items() if k in recorded}}
    differs = [f"{key} {_show(recorded.get(key), 60)} here {_show(value, 60)}" for key, value in here.items()
               if key in recorded and recorded.get(key) != value]
    return printable(f"INFO environment differs from the bundle's: {'; '.join(differs)} (golden sample checked anyway)") \
        if differs else None


def _show(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) or not HASH_PATTERN.fullmatch(value) else value
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _names(items: list[str], sep: str = ", ") -> str:
    more = f"{sep}+{len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
    return sep.join(items[:MAX_LISTED]) + more

