"""The entry_v10 bundle format in one place: file names, writer, manifest, the sha256 gate, plain loaders.

    files = bundle_file_bytes(model, train_config, meta_blob, seq_blob, snap_blob, golden, environment)
    write_bundle(staging_dir, files)          # the files plus manifest.json (training, gx1.bundle)
    opened = open_bundle("models/entry_v10_ctx/bundle")   # manifest + every listed file read once
    bundle = load_bundle("models/entry_v10_ctx/bundle")   # gx1.verify's integrity checks, then the loaders

What a bundle holds (each fact once): the weights; ``bundle_metadata.json`` (the plan's §5A keys,
the contract hash, the model config, the environment the bytes came from); ``train_config.json`` (the
training knobs, no machine paths); the feature meta and both scalers as the contract wrote them; the
hash file the plan asks for; a golden sample (a few inputs and the CPU model's outputs);
``manifest.json`` (sha256 and size of each, written last). Same inputs, same bytes.

Safety rules for reading: files are read only when they are regular files (no symlink,
device or pipe), under a size bound per name; the folder walk stops at ``bundle_limits.MAX_FOLDER_ENTRIES``;
JSON nests at most ``bundle_limits.MAX_JSON_DEPTH`` deep; nothing builds or unpickles from bytes whose
sha256 does not match the manifest; scalers load through ``gx1.scaler_io``'s allow-list; the model
config is bounded (size, parameters, inference cost) before a model is built; the weights' zip directory
and pickle opcodes are checked against that config before ``torch.load(weights_only=True)`` reads a
byte of tensor data (``weights``). Every problem a file can have raises ``BundleError`` (bad input,
exit 2 in a CLI); anything else is a bug. Verify, replay and gx1.bundle all read through here, so they
give one verdict on the same bytes.
"""
from __future__ import annotations

import io
import math
import os
import platform
import stat
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.preprocessing import StandardScaler

from gx1.common import InputError, atomic_write_bytes, parse_json_bytes, pretty_json, printable, sha256_bytes
from gx1.contract import META_NAME, SEQ_SCALER_NAME, SNAP_SCALER_NAME, contract_hash, contract_part
from gx1.models.entry_v10 import OUTPUT_COLUMNS, bundle_limits
from gx1.models.entry_v10.bundle_limits import BundleError  # noqa: F401 - re-exported: bundle_io.BundleError
from gx1.models.entry_v10.inputs import ModelInputs, build_model_inputs, gather_batch, predict_rows, predict_samples
from gx1.models.entry_v10.model import EntryV10Config, EntryV10Model, forward_flops_per_sample
from gx1.models.entry_v10.variant import variant_facts
from gx1.scaler_io import scaler_from_bytes

WEIGHTS = "model_state_dict.pt"
TRAIN_CONFIG = "train_config.json"
METADATA = "bundle_metadata.json"
HASH_FILE = "feature_contract_hash.txt"
GOLDEN = "golden_sample.json"
MANIFEST = "manifest.json"
MANIFEST_FORMAT = "gx1-bundle/2"
MAX_BYTES = {WEIGHTS: 256 << 20, TRAIN_CONFIG: 1 << 20, METADATA: 1 << 20, HASH_FILE: 1 << 10, META_NAME: 1 << 20,
             SEQ_SCALER_NAME: 1 << 20, SNAP_SCALER_NAME: 1 << 20, GOLDEN: 16 << 20, MANIFEST: 1 << 20}
BUNDLE_FILES = (WEIGHTS, TRAIN_CONFIG, METADATA, HASH_FILE, META_NAME, SEQ_SCALER_NAME, SNAP_SCALER_NAME, GOLDEN)
JSON_FILES = (METADATA, TRAIN_CONFIG, META_NAME, GOLDEN)
# file types a runtime could load: any of them that is not a bundle file is flagged by verify
LOADABLE_SUFFIXES = frozenset({".pt", ".pth", ".bin", ".ckpt", ".safetensors", ".onnx", ".joblib", ".pkl", ".pickle",
                               ".npz", ".npy", ".json"})
# what a training out_dir holds beside its bundle (reports, never loaded by a runtime)
TRAINING_REPORTS = frozenset({"summary.json", "metrics.json", "reproducible_metrics.json", "run_log.txt", "train_steps.tsv",
                              "train_epochs.tsv"})
# bounds on a model config read from a bundle, checked before anything is built: field -> (low, high)
CONFIG_BOUNDS = {"n_seq_features": (1, 4096), "n_snap_features": (1, 4096), "seq_len": (1, 4096), "n_ctx_cont": (0, 256),
                 "d_model": (1, 2048), "n_layers": (1, 48), "n_heads": (1, 64), "ff_mult": (1, 16), "snap_hidden": (1, 4096),
                 "ctx_embed_dim": (1, 1024), "ctx_hidden": (1, 4096), "fusion_hidden": (1, 4096)}
MAX_CARDINALITY, MAX_CTX_CAT = 100_000, 64
MAX_PARAMETERS = 64_000_000
# inference cost per sample: the golden sample is predicted in blocks of 64 samples (inputs.predict_samples), so
# these bound one block at about 32 GFLOP (4 s on two cores) and 256 MB of activations; the default model
# (d_model 128, 3 layers) stays within them up to seq_len 400
MAX_FORWARD_FLOPS = 500_000_000
MAX_ACTIVATION_BYTES = 4 << 20
MAX_GOLDEN_SAMPLES = 64


# ----------------------------------------------------------------------------- writing


def state_dict_bytes(model: torch.nn.Module) -> bytes:
    """torch.save of the CPU state dict into memory (the archive name does not depend on a file path)."""
    state = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def golden_sample(model: EntryV10Model, inputs: ModelInputs, rows: np.ndarray, times: np.ndarray) -> dict:
    """A few input rows and the CPU model's outputs for them."""
    cpu_model = EntryV10Model(model.cfg)
    cpu_model.load_state_dict({k: v.to("cpu") for k, v in model.state_dict().items()})
    cpu_model.eval()
    seq, snap, ctx_cat, ctx_cont, _ = gather_batch(inputs.to(torch.device("cpu")),
                                                    torch.from_numpy(np.asarray(rows, dtype=np.int64)))
    outputs = predict_samples(cpu_model, seq, snap, ctx_cat, ctx_cont)
    return {"rows": [int(r) for r in rows], "times": [str(times[r].astype("datetime64[s]")) + "Z" for r in rows],
            "seq": seq.tolist(), "snap": snap.tolist(), "ctx_cat": ctx_cat.tolist(), "ctx_cont": ctx_cont.tolist(),
            "outputs": outputs.tolist(), "output_columns": list(OUTPUT_COLUMNS)}


def bundle_metadata(model_cfg: EntryV10Config, feature_hash: str, environment: dict, training_rows: dict) -> dict:
    """bundle_metadata.json: the §5A keys, the contract hash, the model config, the environment and the
    training rows' span (so a replay can say whether its window is out of sample)."""
    return {"model_name": "entry_v10",
            **variant_facts(model_cfg.use_context, len(model_cfg.ctx_cat_cardinalities), model_cfg.n_ctx_cont),
            "feature_contract_hash": feature_hash, "model_config": model_cfg.to_dict(), "environment": environment,
            "training_rows": training_rows}


def bundle_file_bytes(model: EntryV10Model, train_config: dict, meta_blob: bytes, seq_blob: bytes, snap_blob: bytes,
                      golden: dict, environment: dict, training_rows: dict) -> dict[str, bytes]:
    """Every bundle file's bytes (no manifest), in memory."""
    feature_hash = contract_hash(parse_json_bytes(meta_blob, META_NAME))
    return {WEIGHTS: state_dict_bytes(model), TRAIN_CONFIG: pretty_json(train_config).encode(),
            METADATA: pretty_json(bundle_metadata(model.cfg, feature_hash, environment, training_rows)).encode(),
            HASH_FILE: (feature_hash + "\n").encode(), META_NAME: meta_blob, SEQ_SCALER_NAME: seq_blob,
            SNAP_SCALER_NAME: snap_blob, GOLDEN: pretty_json(golden).encode()}


def manifest_bytes(files: dict[str, bytes]) -> bytes:
    """manifest.json: sha256 and size of every bundle file."""
    entries = {name: {"sha256": sha256_bytes(blob), "bytes": len(blob)} for name, blob in sorted(files.items())}
    return pretty_json({"format": MANIFEST_FORMAT, "files": entries}).encode()


def write_bundle(directory: Path, files: dict[str, bytes]) -> None:
    """Write the bundle files, then manifest.json (last), into ``directory`` (a staging folder)."""
    for name in BUNDLE_FILES:
        atomic_write_bytes(Path(directory) / name, files[name])
    atomic_write_bytes(Path(directory) / MANIFEST, manifest_bytes(files))


def is_bundle_folder(directory: Path, extra: frozenset[str] = frozenset()) -> bool:
    """True when ``directory`` holds a gx1 manifest and nothing but bundle files (and ``extra`` names):
    the only kind of folder gx1 replaces."""
    try:
        names = {p.name for p in Path(directory).iterdir()}
        manifest = bundle_limits.parse_json(_read_bounded(Path(directory) / MANIFEST, MANIFEST), MANIFEST)
    except (InputError, OSError):
        return False
    return (isinstance(manifest, dict) and str(manifest.get("format", "")).startswith("gx1-bundle/")
            and names <= set(BUNDLE_FILES) | {MANIFEST} | set(extra))


# ----------------------------------------------------------------------------- reading: the gate


@dataclass(frozen=True)
class OpenedBundle:
    """A bundle as read from disk: the manifest, and the bytes of every listed bundle file that could be read."""

    directory: Path
    manifest_format: object
    listed: dict[str, str]           # bundle file -> sha256 the manifest lists
    blobs: dict[str, bytes] = field(repr=False)  # bundle file -> bytes read (whether or not they match)
    unreadable: dict[str, str]       # bundle file -> why it could not be read
    unlisted: tuple[str, ...]        # listed names that are not bundle files (never read)
    extras: tuple[str, ...]          # other files in the folder (relative paths)
    overflow: str | None = None      # why the folder walk stopped early (bundle_limits.walk_folder), or None
    built: dict = field(default_factory=dict, compare=False, repr=False)  # ``model()``'s result, built once per read

    @property
    def verified(self) -> frozenset[str]:
        """Bundle files whose bytes match the manifest's sha256 (hashed once per read)."""
        if "verified" not in self.built:
            self.built["verified"] = frozenset(n for n, b in self.blobs.items() if self.listed.get(n) == sha256_bytes(b))
        return self.built["verified"]

    def verified_blob(self, name: str) -> bytes:
        """Bytes that matched the manifest; BundleError otherwise (nothing is built from unmatched bytes)."""
        if name not in self.verified:
            raise BundleError(f"{name} {self.unreadable.get(name, 'did not match the manifest sha256')}: not loaded")
        return self.blobs[name]

    def document(self, name: str) -> dict:
        """A JSON bundle file as an object (parsed even when unverified: JSON values are only compared)."""
        if name not in self.blobs:
            raise BundleError(f"{name} {self.unreadable.get(name, 'is missing')}")
        value = bundle_limits.parse_json(self.blobs[name], name)
        if not isinstance(value, dict):
            raise BundleError(f"{name} is not a JSON object")
        return value

    def hash_text(self) -> str:
        if HASH_FILE not in self.blobs:
            raise BundleError(f"{HASH_FILE} {self.unreadable.get(HASH_FILE, 'is missing')}")
        try:
            return self.blobs[HASH_FILE].decode("ascii").strip()
        except UnicodeDecodeError:
            raise BundleError(f"{HASH_FILE} is not ASCII text") from None


def _read_bounded(path: Path, name: str) -> bytes:
    """A regular file's bytes (a symlink, device or pipe is refused before it is opened for reading)."""
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode):
        raise BundleError(f"{name} is not a regular file")
    if info.st_size > MAX_BYTES[name]:
        raise BundleError(f"{name} is {info.st_size} bytes, more than the {MAX_BYTES[name]} allowed")
    with open(path, "rb") as fh:
        data = fh.read(MAX_BYTES[name] + 1)
    if len(data) > MAX_BYTES[name]:
        raise BundleError(f"{name} grew past {MAX_BYTES[name]} bytes while read")
    return data


def open_bundle(bundle_dir: str | Path) -> OpenedBundle:
    """Read manifest.json and every listed bundle file once. InputError (exit 2) when there is no readable manifest."""
    directory = Path(bundle_dir)
    if not directory.is_dir():
        raise InputError(f"bundle directory not found: {directory} (pass the out_dir of training or of gx1.bundle)")
    try:
        manifest = bundle_limits.parse_json(_read_bounded(directory / MANIFEST, MANIFEST), f"{directory / MANIFEST}")
    except FileNotFoundError:
        raise InputError(f"bundle {directory} has no {MANIFEST}: not a complete bundle "
                         "(finish training or rerun gx1.bundle)") from None
    entries = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(entries, dict) or not all(isinstance(e, dict) and isinstance(e.get("sha256"), str)
                                                for e in entries.values()):
        raise InputError(f"{directory / MANIFEST} is not a bundle manifest (needs files: {{name: {{sha256}}}}): rerun gx1.bundle")
    listed = {name: entry["sha256"] for name, entry in entries.items()}
    blobs, unreadable = {}, {}
    for name in BUNDLE_FILES:
        try:
            blobs[name] = _read_bounded(directory / name, name)
        except FileNotFoundError:
            unreadable[name] = "is missing"
        except BundleError as exc:
            unreadable[name] = str(exc).removeprefix(f"{name} ")
    listing = bundle_limits.walk_folder(directory)  # bounded: a folder of 20,000 files is refused, not listed
    own = set(BUNDLE_FILES) | {MANIFEST}
    extras = tuple(name for name in listing.files if name not in own)
    return OpenedBundle(directory, manifest.get("format"), listed, blobs, unreadable,
                        tuple(sorted(n for n in listed if n not in BUNDLE_FILES)), extras, listing.overflow)


def loadable_extras(opened: OpenedBundle) -> list[str]:
    """Extra files a runtime could load (by suffix), except a training out_dir's own report files."""
    return [name for name in opened.extras if Path(name).suffix.lower() in LOADABLE_SUFFIXES and name not in TRAINING_REPORTS]


# ----------------------------------------------------------------------------- reading: plain loaders


def model_config(opened: OpenedBundle) -> EntryV10Config:
    """The model config from verified bundle_metadata.json, bounded before anything is built."""
    opened.verified_blob(METADATA)
    raw = opened.document(METADATA).get("model_config")
    return config_from_dict(raw)


def config_from_dict(raw: object) -> EntryV10Config:
    """An EntryV10Config from a JSON object: every field present with its type, sizes within CONFIG_BOUNDS."""
    if not isinstance(raw, dict):
        raise BundleError(f"model_config is {type(raw).__name__}, not an object")
    known = {f.name: f for f in fields(EntryV10Config)}
    unknown, missing = sorted(set(raw) - set(known)), sorted(set(known) - set(raw))
    if unknown or missing:
        raise BundleError(f"model_config fields differ from EntryV10Config (unknown {printable(unknown)[:200]}, missing {missing})")
    problems = []
    for name, (low, high) in CONFIG_BOUNDS.items():
        value = raw[name]
        if type(value) is not int or not low <= value <= high:
            problems.append(f"{name} {printable(value)[:40]} not an int in [{low}, {high}]")
    cards = raw["ctx_cat_cardinalities"]
    if not isinstance(cards, list) or len(cards) > MAX_CTX_CAT or \
            not all(type(c) is int and 1 <= c <= MAX_CARDINALITY for c in cards):
        problems.append(f"ctx_cat_cardinalities must be at most {MAX_CTX_CAT} ints in [1, {MAX_CARDINALITY}]")
    for name in ("dropout", "loss_weight_dir", "loss_weight_early", "loss_weight_quality", "huber_delta"):
        if type(raw[name]) not in (int, float) or not math.isfinite(raw[name]) or not 0 <= raw[name] <= 1e6:
            problems.append(f"{name} {printable(raw[name])[:40]} not a finite number >= 0")
    if type(raw["use_context"]) is not bool:
        problems.append("use_context is not true/false")
    if raw["ff_activation"] not in ("relu", "gelu"):
        problems.append(f"ff_activation {printable(raw['ff_activation'])[:40]} is not relu or gelu")
    if not problems and raw["d_model"] % raw["n_heads"]:
        problems.append(f"d_model {raw['d_model']} is not divisible by n_heads {raw['n_heads']}")
    if problems:
        raise BundleError(f"model_config: {'; '.join(problems)}")
    cfg = EntryV10Config(**raw)
    if parameter_estimate(cfg) > MAX_PARAMETERS:
        raise BundleError(f"model_config asks for about {parameter_estimate(cfg):,} parameters, more than the "
                          f"{MAX_PARAMETERS:,} allowed")
    if forward_flops_per_sample(cfg) > MAX_FORWARD_FLOPS or activation_estimate(cfg) > MAX_ACTIVATION_BYTES:
        raise BundleError(f"model_config asks for {forward_flops_per_sample(cfg):,} FLOPs and about "
                          f"{activation_estimate(cfg):,} bytes of activations per sample, more than the "
                          f"{MAX_FORWARD_FLOPS:,} and {MAX_ACTIVATION_BYTES:,} allowed")
    return cfg


def activation_estimate(cfg: EntryV10Config) -> int:
    """Bytes of the largest activations one sample's forward pass holds at once (float32: a block's input,
    its q/k/v and its MLP hidden layer over the sequence), from the config alone."""
    return 4 * cfg.seq_len * (4 * cfg.d_model + cfg.ff_mult * cfg.d_model) + 4 * (cfg.snap_hidden + cfg.fusion_hidden)


def parameter_estimate(cfg: EntryV10Config) -> int:
    """An upper estimate of the parameter count, from the config alone (nothing is allocated)."""
    d, ff = cfg.d_model, cfg.ff_mult * cfg.d_model
    count = cfg.n_seq_features * d + cfg.seq_len * d + cfg.n_layers * (4 * d * d + 2 * d * ff + 9 * d + ff)
    count += cfg.n_snap_features * cfg.snap_hidden + cfg.snap_hidden ** 2 + 2 * cfg.snap_hidden
    fused = d + cfg.snap_hidden
    ctx_in = cfg.ctx_embed_dim * (len(cfg.ctx_cat_cardinalities) + 1)
    count += sum(cfg.ctx_cat_cardinalities) * cfg.ctx_embed_dim + ctx_in * cfg.ctx_hidden + cfg.ctx_hidden * 2 * fused
    count += (fused + cfg.ctx_hidden) * cfg.fusion_hidden + cfg.fusion_hidden ** 2 + 3 * cfg.fusion_hidden
    return int(count * 1.05) + 10_000


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

    ``expected`` is ``expected_state`` of the model the bounded config builds. Before loading (``bundle_limits``):
    the zip's directory (torch's records only, stored, in the file, no overlap); ``data.pkl``'s opcodes build dense
    float tensors and nothing else; exactly one ``data/<n>`` record per expected tensor, whose sizes are the
    tensors' sizes (so the load reads what the config implies; after it, ``_check_tensors`` shows that every
    record was referenced)."""
    blob = opened.verified_blob(WEIGHTS)
    # the record count is bounded before the directory is parsed (twice what the format needs: a surplus record is
    # then named below, and refused by the size check in any case)
    archive = bundle_limits.torch_archive(blob, WEIGHTS, max_records=2 * (len(expected) + len(bundle_limits.SMALL_RECORDS) + 1))
    bundle_limits.dense_state_pickle(bundle_limits.archive_record(blob, archive, "data.pkl", WEIGHTS), WEIGHTS)
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


# ----------------------------------------------------------------------------- the loaded bundle


@dataclass(frozen=True)
class Bundle:
    """A bundle that passed the integrity checks, with everything a runtime needs."""

    directory: Path
    metadata: dict
    train_config: dict
    feature_meta: dict
    contract_hash: str
    seq_scaler: StandardScaler
    snap_scaler: StandardScaler
    model: EntryV10Model

    @property
    def seq_len(self) -> int:
        return self.model.cfg.seq_len

    @property
    def use_context(self) -> bool:
        return self.model.cfg.use_context

    def model_inputs(self, data: dict[str, np.ndarray]) -> ModelInputs:
        """Scale a dataset's columns with the bundle's own scalers (the training-time data path)."""
        return build_model_inputs(data, self.feature_meta["contract"], self.seq_scaler, self.snap_scaler, self.seq_len)

    def predict(self, inputs: ModelInputs, rows: np.ndarray) -> np.ndarray:
        """Model outputs (direction logit, early-move logit, quality) for dataset rows (``inputs.predict_rows``)."""
        return predict_rows(self.model, inputs, rows).cpu().numpy()


def load_bundle(bundle_dir: str | Path, expected_hash: str | None = None) -> Bundle:
    """Run gx1.verify's integrity checks (plus the contract hash when ``expected_hash`` is given), then load.

    Raises BundleError naming the first failing check. The §5A policy (context variant) is the caller's.
    """
    from gx1.verify import integrity_failure  # the checks live in gx1.verify; they import this module
    opened = open_bundle(bundle_dir)
    failure = integrity_failure(opened, expected_hash)
    if failure is not None:
        raise BundleError(f"{failure.name} check failed: {failure.detail} (bundle {opened.directory})")
    meta = opened.document(META_NAME)
    return Bundle(directory=opened.directory, metadata=opened.document(METADATA), train_config=opened.document(TRAIN_CONFIG),
                  feature_meta=meta, contract_hash=contract_hash(meta), seq_scaler=scaler(opened, SEQ_SCALER_NAME),
                  snap_scaler=scaler(opened, SNAP_SCALER_NAME), model=model(opened))


ENVIRONMENT_LOCK = Path(__file__).resolve().parents[3] / "requirements.lock"  # beside gx1/, in a checkout


def environment_facts(device: torch.device, threads: int, world_size: int = 1) -> dict:
    """What the weight bytes depend on besides inputs and params (gx1.cpu says which facts matter in which mode;
    the number of torchrun processes always does), the sha256 of the environment lock the code came with
    (None outside a checkout), and this machine's arithmetic fingerprint (``gx1.fingerprint``; ``gx1.doctor
    --bundle`` compares another machine's with it)."""
    from gx1.cpu import reproducibility_facts
    from gx1.fingerprint import arithmetic_fingerprint
    lock = sha256_bytes(ENVIRONMENT_LOCK.read_bytes()) if ENVIRONMENT_LOCK.is_file() else None
    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "scikit_learn": sklearn.__version__, "machine": platform.machine(), "device": device.type,
            "world_size": world_size,
            "requirements_lock_sha256": lock, **reproducibility_facts(threads),
            "arithmetic_fingerprint": arithmetic_fingerprint()}

