"""Training checkpoints that prove their integrity before anything is resumed from them.

    blob = encode(torch_save_bytes, fingerprint)     # what training.save_checkpoint writes
    state = decode(blob, fingerprint)                # what training.resume loads: checked, or CheckpointError

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

import torch

from gx1.common import canonical_json, sha256_bytes
from gx1.bundle import limits

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
