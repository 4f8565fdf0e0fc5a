"""The bounds a model config read from a bundle must meet before anything is built from it.

    from gx1.bundle.config import config_from_dict
    cfg = config_from_dict(raw)   # an EntryV10Config within CONFIG_BOUNDS, MAX_PARAMETERS, MAX_FORWARD_FLOPS; else BundleError

``gx1.bundle.loaders`` applies them to every bundle it reads; training applies them to the model it is about to
build (a model beyond them could not be verified, so it is refused before training).
"""
from __future__ import annotations

import math
from dataclasses import fields

from gx1.bundle.limits import BundleError
from gx1.common import printable
from gx1.models.entry_v10.model import EntryV10Config, forward_flops_per_sample

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

