"""The entry_v10 variant rule, stated once: context fusion on -> ``v10_ctx``, off -> ``v10``.

    ENTRY_CONTEXT_FEATURES_ENABLED=true  -> v10_ctx: 5 categorical + 2 continuous context features
    ENTRY_CONTEXT_FEATURES_ENABLED=false -> v10:     no context (0 / 0 dims)

Training reads the variable (unset means false, as the plan's commands imply); replay and verify take
the variant from the bundle and refuse a variable that contradicts it.
"""
from __future__ import annotations

import os

from gx1.common import InputError

CONTEXT_ENV = "ENTRY_CONTEXT_FEATURES_ENABLED"


def context_from_env(default: bool | None = False) -> bool | None:
    """The variable as a bool; ``default`` when it is unset or empty."""
    value = os.environ.get(CONTEXT_ENV, "").strip().lower()
    if value == "":
        return default
    if value in ("true", "false"):
        return value == "true"
    raise InputError(f"{CONTEXT_ENV}={os.environ[CONTEXT_ENV]!r}: use true (context variant v10_ctx) or false (variant v10)")


def variant_name(use_context: bool) -> str:
    return "v10_ctx" if use_context else "v10"


def variant_facts(use_context: bool, n_ctx_cat: int, n_ctx_cont: int) -> dict:
    """The keys of bundle_metadata.json that the plan's checks read for a model (context dims are 0 without context)."""
    return {"model_variant": variant_name(use_context), "supports_context_features": use_context,
            "expected_ctx_cat_dim": n_ctx_cat if use_context else 0, "expected_ctx_cont_dim": n_ctx_cont if use_context else 0}
