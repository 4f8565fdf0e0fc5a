"""Plain loaders: each builds one thing from an opened bundle's verified bytes, bounded before it is built.

    cfg = model_config(opened)            # bounded EntryV10Config (format.config_from_dict)
    net = model(opened)                   # rebuilt, weights checked (limits) then loaded strictly; once per opened bundle
    seq_scaler = scaler(opened, SEQ_SCALER_NAME)   # through gx1.scaler_io's allow-list

The weights' zip directory and pickle opcodes are checked against the config (``limits``) before
``torch.load(weights_only=True)`` reads a byte of tensor data. Every problem raises ``BundleError``.
"""
from __future__ import annotations

import io
import math

import torch
from sklearn.preprocessing import StandardScaler

from gx1.bundle import limits
from gx1.bundle.config import config_from_dict
from gx1.bundle.format import GOLDEN, MAX_GOLDEN_SAMPLES, METADATA, WEIGHTS
from gx1.bundle.limits import BundleError
from gx1.bundle.read import OpenedBundle
from gx1.common import InputError, printable
from gx1.contract import META_NAME, contract_part
from gx1.models.entry_v10.model import EntryV10Config, EntryV10Model
from gx1.scaler_io import scaler_from_bytes


def model_config(opened: OpenedBundle) -> EntryV10Config:
    """The model config from verified bundle_metadata.json, bounded before anything is built."""
    opened.verified_blob(METADATA)
    raw = opened.document(METADATA).get("model_config")
    return config_from_dict(raw)


def feature_contract(opened: OpenedBundle) -> dict:
    """The contract part of the bundle's feature meta (keys checked)."""
    return _as_bundle_error(lambda: contract_part(opened.document(META_NAME)))


def scaler(opened: OpenedBundle, name: str) -> StandardScaler:
    """A scaler from verified bytes, through the allow-list unpickler."""
    return _as_bundle_error(lambda: scaler_from_bytes(opened.verified_blob(name), name))


def expected_state(model: EntryV10Model) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """Name -> (shape, dtype) of every tensor in a model's state dict."""
    return {name: (tuple(t.shape), t.dtype) for name, t in model.state_dict().items()}


def weights(opened: OpenedBundle, expected: dict[str, tuple[tuple[int, ...], torch.dtype]]) -> dict[str, torch.Tensor]:
    """The state dict from verified bytes, checked before any tensor data is read, then torch.load(weights_only=True).

    ``expected`` is ``expected_state`` of the model the bounded config builds. Before loading (``limits``):
    the zip's directory (torch's records only, stored, in the file, no overlap); ``data.pkl``'s opcodes build dense
    float tensors and nothing else; exactly one ``data/<n>`` record per expected tensor, whose sizes are the
    tensors' sizes (so the load reads what the config implies; after it, ``_check_tensors`` shows that every
    record was referenced)."""
    blob = opened.verified_blob(WEIGHTS)
    # the record count is bounded before the directory is parsed (twice what the format needs: a surplus record is
    # then named below, and refused by the size check in any case)
    archive = limits.torch_archive(blob, WEIGHTS, max_records=2 * (len(expected) + len(limits.SMALL_RECORDS) + 1))
    limits.dense_state_pickle(limits.archive_record(blob, archive, "data.pkl", WEIGHTS), WEIGHTS)
    sizes = sorted(math.prod(shape) * dtype.itemsize for shape, dtype in expected.values())
    found = sorted(archive.storages.values())
    if found != sizes:
        raise BundleError(f"{WEIGHTS}: {len(found)} tensor records of {sum(found):,} bytes, where the model config "
                          f"needs {len(sizes)} of {sum(sizes):,} bytes with the tensors' sizes (refused unread)")
    try:
        state = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a corrupt or hostile archive raises many types; all are bad input
        raise BundleError(f"{WEIGHTS}: torch.load(weights_only=True) failed ({type(exc).__name__}: "
                          f"{printable(exc)[:200]})") from None
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise BundleError(f"{WEIGHTS} holds a {type(state).__name__}, not a state dict of tensors")
    _check_tensors(state, len(archive.storages))
    return state


def _check_tensors(state: dict[str, torch.Tensor], records: int) -> None:
    """Dense CPU float tensors, each alone in its storage and filling it: then ``records`` tensors (one record
    each) read ``records`` distinct records, i.e. every record in the archive."""
    odd = [k for k, t in state.items() if t.layout != torch.strided or t.device.type != "cpu" or not t.is_floating_point()]
    if odd:
        raise BundleError(f"{WEIGHTS}: {printable(odd[0])[:80]} is a {state[odd[0]].layout} {state[odd[0]].dtype} tensor on "
                          f"{state[odd[0]].device}: only dense float tensors are loaded")
    filled = [t for t in state.values() if t.numel()]
    shared = len({t.untyped_storage().data_ptr() for t in filled}) != len(filled)
    partial = [k for k, t in state.items() if t.untyped_storage().nbytes() != t.numel() * t.element_size()
               or t.storage_offset() or not t.is_contiguous()]
    if shared or partial or len(state) != records:
        raise BundleError(f"{WEIGHTS}: tensors share or only partly use their storages ({printable(partial[:3])[:120]}), "
                          f"or {records} records hold {len(state)} tensors (expected one whole record per tensor)")


def model(opened: OpenedBundle) -> EntryV10Model:
    """The model rebuilt from the bounded config, weights loaded strictly (names, shapes, finite), eval mode.

    Built once per opened bundle (the weights and golden-sample checks and ``load_bundle`` share it; it is a pure
    function of the bytes read, and nothing trains it)."""
    if "model" not in opened.built:
        opened.built["model"] = _build_model(opened)
    return opened.built["model"]


def _build_model(opened: OpenedBundle) -> EntryV10Model:
    cfg = model_config(opened)
    with torch.random.fork_rng(devices=[]):  # building must not move the caller's RNG
        built = EntryV10Model(cfg)  # the config is bounded: at most MAX_PARAMETERS (256 MB)
    state = weights(opened, expected_state(built))
    expected = built.state_dict()
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    shapes = [f"{k} {tuple(state[k].shape)} != {tuple(expected[k].shape)}" for k in sorted(set(state) & set(expected))
              if state[k].shape != expected[k].shape or state[k].dtype != expected[k].dtype]
    non_finite = [k for k in sorted(set(state) & set(expected)) if state[k].is_floating_point()
                  and not bool(torch.isfinite(state[k]).all())]
    if missing or unexpected or shapes or non_finite:
        parts = [f"{what} [{printable(', '.join(keys[:10]))}{' ...' if len(keys) > 10 else ''}]"
                 for what, keys in (("missing keys", missing), ("unexpected keys", unexpected),
                                    ("shape/dtype mismatches", shapes), ("non-finite tensors", non_finite)) if keys]
        raise BundleError(f"{WEIGHTS}: {'; '.join(parts)} (expected exactly the model's {len(expected)} tensors, finite)")
    built.load_state_dict(state, strict=True)
    return built.eval()


def golden_inputs(opened: OpenedBundle, cfg: EntryV10Config) -> tuple[torch.Tensor, ...]:
    """(seq, snap, ctx_cat, ctx_cont, stored outputs) of the golden sample, shapes checked against ``cfg``."""
    golden = opened.document(GOLDEN)
    try:
        seq, snap, ctx_cont, stored = (torch.tensor(golden[k], dtype=torch.float32) for k in ("seq", "snap", "ctx_cont", "outputs"))
        ctx_cat = torch.tensor(golden["ctx_cat"], dtype=torch.int64)
    except (KeyError, TypeError, ValueError, RuntimeError, OverflowError) as exc:
        raise BundleError(f"{GOLDEN}: not numeric arrays ({type(exc).__name__}: {printable(exc)[:120]})") from None
    n = len(stored)
    if n > MAX_GOLDEN_SAMPLES:
        raise BundleError(f"{GOLDEN}: {n} samples, more than the {MAX_GOLDEN_SAMPLES} allowed")
    wanted = {"seq": (seq, (n, cfg.seq_len, cfg.n_seq_features)), "snap": (snap, (n, cfg.n_snap_features)),
              "outputs": (stored, (n, 3))}
    if cfg.use_context:  # without context the model ignores these inputs
        wanted.update(ctx_cat=(ctx_cat, (n, len(cfg.ctx_cat_cardinalities))), ctx_cont=(ctx_cont, (n, cfg.n_ctx_cont)))
    wrong = [f"{k} {tuple(t.shape)} != {shape}" for k, (t, shape) in wanted.items() if tuple(t.shape) != shape]
    if n == 0 or wrong:
        raise BundleError(f"{GOLDEN}: shapes {'; '.join(wrong) or 'empty'} (expected n >= 1 samples of the model's inputs)")
    if cfg.use_context and ((ctx_cat < 0) | (ctx_cat >= torch.tensor(cfg.ctx_cat_cardinalities))).any():
        raise BundleError(f"{GOLDEN}: ctx_cat values outside the model's cardinalities")
    return seq, snap, ctx_cat, ctx_cont, stored


def _as_bundle_error(load):
    try:
        return load()
    except BundleError:
        raise
    except InputError as exc:
        raise BundleError(str(exc)) from None

