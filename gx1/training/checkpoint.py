"""Training checkpoints that prove their integrity before anything is resumed from them: written after every
epoch, resumed from when the same run starts again.

    save_checkpoint(path, model, optimizer, history, fingerprint)   # encode(torch.save bytes), written atomically
    history = resume(path, model, optimizer, fingerprint)           # decode, then model, optimizer and RNG restored

A checkpoint file is ``MAGIC``, one line of canonical JSON, a newline, then the content (``torch.save`` of the
state dict: model, optimizer, epoch, fingerprint, history, RNG states). The JSON line holds the content's
byte count and sha256 and the sha256 of the run's fingerprint (``canonical_json(fingerprint)``, whose first
16 hex digits name the file). ``decode`` refuses, before unpickling a byte, a file that is not exactly
that: another magic, a header that is not the canonical encoding of its own values, a content of another
length or sha256, another run's fingerprint. So any change to any byte of the file (a flipped bit, a
truncation, an emptied file) is refused: the header is checked byte for byte, the content by its sha256.
Then the content's zip directory is bounded (``gx1.bundle.limits.torch_archive``: stored records only, nothing
inflated), it is loaded with ``torch.load(weights_only=True)``, and its own fingerprint and history must
agree with the header and with each other (epochs numbered 1..n, as many step rows as the epochs' step
counts, numbered consecutively, the optimizer's step count the same): a history edited by someone who also
recomputed the sha256 is refused too. Every refusal is a ``CheckpointError`` with one line naming why.
"""
from __future__ import annotations

import io
import json
import math
import os
import random
from pathlib import Path

import numpy as np
import torch

from gx1.bundle import limits
from gx1.common import InputError, atomic_write_bytes, canonical_json, read_regular_file, sha256_bytes
from gx1.models.entry_v10.model import EntryV10Model
from gx1.training import distributed
from gx1.training.distributed import World
from gx1.training.telemetry import RunHistory

MAGIC = b"gx1-checkpoint/1\n"
MAX_HEADER_BYTES = 512
MAX_CHECKPOINT_BYTES = 1 << 30  # the entry_v10 model with its AdamW state and a long history is a few MB


class CheckpointError(Exception):
    """A checkpoint is damaged, foreign or inconsistent: never resumed from (the message says why, one line)."""


def fingerprint_sha256(fingerprint: dict) -> str:
    return sha256_bytes(canonical_json(fingerprint).encode())


def _header(content: bytes, fingerprint_hash: str) -> bytes:
    return canonical_json({"content_bytes": len(content), "content_sha256": sha256_bytes(content),
                           "run_fingerprint_sha256": fingerprint_hash}).encode() + b"\n"


def encode(content: bytes, fingerprint: dict) -> bytes:
    """The checkpoint file's bytes: magic, header line, content."""
    return MAGIC + _header(content, fingerprint_sha256(fingerprint)) + content


def decode(blob: bytes, fingerprint: dict) -> dict:
    """The checkpoint's state, after every check in the module docstring; CheckpointError otherwise."""
    if not blob.startswith(MAGIC):
        raise CheckpointError("not a gx1 checkpoint (no gx1-checkpoint/1 header; empty, truncated or from an older gx1)")
    end = blob.find(b"\n", len(MAGIC), len(MAGIC) + MAX_HEADER_BYTES)
    if end < 0:
        raise CheckpointError("its header line is missing or too long")
    line, content = blob[len(MAGIC):end + 1], blob[end + 1:]
    try:
        header = json.loads(line.decode("ascii"))
        recorded = (header["content_bytes"], header["content_sha256"], header["run_fingerprint_sha256"])
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise CheckpointError("its header line is not the JSON gx1 writes") from None
    if not isinstance(recorded[2], str) or line != _header(content, recorded[2]):
        if recorded[0] != len(content):
            raise CheckpointError(f"content is {len(content)} bytes, its header says {recorded[0]} (truncated or extended)")
        if recorded[1] != sha256_bytes(content):
            raise CheckpointError("content sha256 differs from the one in its header (damaged)")
        raise CheckpointError("its header is not what gx1 writes for this content (damaged)")
    if recorded[2] != fingerprint_sha256(fingerprint):
        raise CheckpointError("it belongs to another run (run fingerprint sha256 differs)")
    try:
        limits.torch_archive(content, "checkpoint content", max_pickle_bytes=len(content))
    except limits.BundleError as exc:
        raise CheckpointError(str(exc)) from None
    try:
        state = torch.load(io.BytesIO(content), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure of a sha-verified archive is a refusal
        raise CheckpointError(f"torch.load(weights_only=True) failed ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not isinstance(state, dict) or state.get("fingerprint") != canonical_json(fingerprint):
        raise CheckpointError("its recorded fingerprint is not this run's")
    check_history(state)
    return state


def check_history(state: dict) -> None:
    """The history agrees with itself, with the epoch count and with the optimizer's step count (CheckpointError)."""
    history, epoch = state.get("history"), state.get("epoch")
    epochs = history.get("epochs") if isinstance(history, dict) else None
    steps = history.get("steps") if isinstance(history, dict) else None
    if not isinstance(epochs, list) or not isinstance(steps, list) or type(epoch) is not int or epoch < 1 \
            or len(epochs) != epoch:
        raise CheckpointError(f"its history is truncated or emptied ({_count(epochs)} epoch summaries, epoch {epoch!r})")
    if not all(isinstance(e, dict) and e.get("epoch") == i + 1 and type(e.get("steps")) is int and e["steps"] >= 1
               for i, e in enumerate(epochs)):
        raise CheckpointError("its epoch summaries are not numbered 1..n with a step count each")
    if sum(e["steps"] for e in epochs) != len(steps):
        raise CheckpointError(f"its history holds {len(steps)} step rows for {sum(e['steps'] for e in epochs)} steps in "
                              f"{len(epochs)} epochs")
    owners = [i + 1 for i, e in enumerate(epochs) for _ in range(e["steps"])]
    if not all(isinstance(r, dict) and r.get("step") == j + 1 and r.get("epoch") == owner
               for j, (r, owner) in enumerate(zip(steps, owners))):
        raise CheckpointError("its step rows are not numbered 1..n within their epochs")
    optimizer = state.get("optimizer")
    counts = {_number(s.get("step")) for s in optimizer.get("state", {}).values()} \
        if isinstance(optimizer, dict) and isinstance(optimizer.get("state"), dict) else {None}
    if counts != {float(len(steps))}:
        raise CheckpointError(f"its optimizer has taken {sorted(map(str, counts))} steps, its history {len(steps)}")


def _count(value) -> str:
    return str(len(value)) if isinstance(value, list) else "no"


def _number(value) -> float | None:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


# ----------------------------------------------------------------------------- saving and resuming a run


def save_checkpoint(path: Path, model: EntryV10Model, optimizer: torch.optim.Optimizer, history: RunHistory,
                    fingerprint: dict) -> None:
    """A plain dict of tensors, lists and numbers (torch.load(weights_only=True) loads it), in the envelope of
    ``encode``: the content's sha256 and the run fingerprint's, checked before it is resumed from."""
    numpy_state = np.random.get_state()
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": len(history.epochs),
             "fingerprint": canonical_json(fingerprint), "history": {"epochs": history.epochs, "steps": history.steps},
             "rng": {"torch": torch.get_rng_state(), "python": _plain(random.getstate()),
                     "numpy": [numpy_state[0], numpy_state[1].tolist(), *numpy_state[2:]],
                     "cuda": torch.cuda.get_rng_state() if torch.cuda.is_available() and torch.cuda.is_initialized() else None}}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, encode(buffer.getvalue(), fingerprint))  # with its sha256 and the run's


def _plain(value):
    return [_plain(v) for v in value] if isinstance(value, (tuple, list)) else value


def resume(path: Path, model: EntryV10Model, optimizer: torch.optim.Optimizer, fingerprint: dict,
           world: World = World()) -> RunHistory:
    """The run history so far, with model, optimizer and RNG restored, from a checkpoint of this very run
    (read by rank 0 and broadcast to the other ranks under torchrun).

    Nothing is resumed from a checkpoint that fails ``decode`` (content sha256, run fingerprint,
    history consistency) or does not load into this model and optimizer: InputError, one line, the file kept."""
    blob = read_regular_file(path, "checkpoint", MAX_CHECKPOINT_BYTES) \
        if world.is_main and os.path.lexists(path) else None
    blob = distributed.broadcast_bytes(blob, world)
    if blob is None:
        return RunHistory()
    try:
        state = decode(blob, fingerprint)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        random.setstate(tuple(tuple(v) if isinstance(v, list) else v for v in rng["python"]))
        np.random.set_state((rng["numpy"][0], np.array(rng["numpy"][1], dtype=np.uint32), *rng["numpy"][2:]))
        if rng["cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state(rng["cuda"])
    except CheckpointError as exc:
        raise InputError(f"checkpoint {path} cannot be resumed: {exc}: delete it to start over") from None
    except Exception as exc:  # noqa: BLE001 - a damaged checkpoint is bad input, named with its fix
        raise InputError(f"checkpoint {path} cannot be resumed ({type(exc).__name__}: {str(exc)[:120]}): delete it to start "
                         "over") from None
    return RunHistory(epochs=state["history"]["epochs"], steps=state["history"]["steps"])
