"""Training checkpoints prove their integrity (issue 28, point 4): a flipped bit anywhere, a truncation, another
run's fingerprint or a history emptied or cut (even with its sha256 recomputed) is refused with one line, and
never resumed from.

The fast tests save a checkpoint of a tiny model in-process (``checkpoint.save_checkpoint``, as training does) and
damage it at hypothesis-chosen offsets; the slow ones kill a real training run after its first epoch and
rerun it on a damaged checkpoint.
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import run_train, train_argv
from gx1.common import InputError
from gx1.training import checkpoint
from gx1.training import run as training
from gx1.models.entry_v10.model import EntryV10Config, EntryV10Model
from gx1.training.telemetry import RunHistory

FINGERPRINT = {"seed": 1, "epochs": 3, "data_sha256": "0" * 64}
TINY = EntryV10Config(n_seq_features=3, n_snap_features=2, seq_len=4, d_model=8, n_heads=2, n_layers=1, ff_mult=2,
                      snap_hidden=8, fusion_hidden=8, use_context=False, ctx_cat_cardinalities=[], n_ctx_cont=0)


def tiny_run(steps_per_epoch: int = 2, epochs: int = 1) -> tuple[EntryV10Model, torch.optim.Optimizer, RunHistory]:
    """A tiny model after a few real AdamW steps, and the history a run would have kept."""
    torch.manual_seed(0)
    model = EntryV10Model(TINY)
    optimizer = training.make_optimizer(model, 1e-3, 0.01)
    history = RunHistory()
    for epoch in range(1, epochs + 1):
        for _ in range(steps_per_epoch):
            out = model(torch.randn(4, TINY.seq_len, 3), torch.randn(4, 2))
            optimizer.zero_grad()
            out.square().mean().backward()
            optimizer.step()
            history.steps.append({"step": len(history.steps) + 1, "epoch": epoch, "loss": 1.0, "grad_norm": 0.5})
        history.epochs.append({"epoch": epoch, "steps": steps_per_epoch, "samples": 4 * steps_per_epoch, "loss_mean": 1.0})
    return model, optimizer, history


class Saved(tuple):
    """(checkpoint bytes, the model state they hold), shown short in hypothesis' reports."""

    def __repr__(self) -> str:
        return f"<checkpoint of {len(self[0])} bytes>"


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Saved:
    """A checkpoint's bytes as training writes them, and the model's state they hold."""
    path = tmp_path_factory.mktemp("checkpoint") / "run.pt"
    model, optimizer, history = tiny_run()
    checkpoint.save_checkpoint(path, model, optimizer, history, FINGERPRINT)
    return Saved((path.read_bytes(), {k: v.clone() for k, v in model.state_dict().items()}))


def resume_from(blob: bytes, tmp_path, fingerprint: dict = FINGERPRINT) -> tuple[RunHistory, EntryV10Model]:
    path = tmp_path / "run.pt"
    path.write_bytes(blob)
    torch.manual_seed(1)
    model = EntryV10Model(TINY)
    return checkpoint.resume(path, model, training.make_optimizer(model, 1e-3, 0.01), fingerprint), model


def reencode(blob: bytes, edit) -> bytes:
    """The checkpoint with its content edited and the envelope recomputed (what a forger, or a careless tool, writes)."""
    state = checkpoint.decode(blob, FINGERPRINT)
    edit(state)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return checkpoint.encode(buffer.getvalue(), FINGERPRINT)


def test_intact_checkpoint_resumes_exactly(saved, tmp_path):
    blob, weights = saved
    history, model = resume_from(blob, tmp_path)
    assert len(history.epochs) == 1 and len(history.steps) == 2
    assert all(torch.equal(model.state_dict()[k], v) for k, v in weights.items())
    assert blob.startswith(checkpoint.MAGIC)


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_a_flipped_bit_anywhere_is_never_resumed_from(saved, data):
    """Property: one flipped bit at any offset of the file (header, content, zip directory, last byte) is refused
    before anything is unpickled."""
    blob = saved[0]
    bit = data.draw(st.integers(0, len(blob) * 8 - 1) | st.integers(0, (len(checkpoint.MAGIC) + 200) * 8)
                    | st.integers((len(blob) - 200) * 8, len(blob) * 8 - 1))
    damaged = bytearray(blob)
    damaged[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(checkpoint.CheckpointError) as refusal:
        checkpoint.decode(bytes(damaged), FINGERPRINT)
    assert "\n" not in str(refusal.value)


def test_every_bit_of_the_header_and_a_stride_of_the_content(saved):
    """Deterministic sweep beside the property: every bit of the first 256 bytes and of the last 256, and every
    97th bit in between."""
    blob = saved[0]
    bits = list(range(0, 256 * 8)) + list(range((len(blob) - 256) * 8, len(blob) * 8)) + list(range(0, len(blob) * 8, 97))
    for bit in bits:
        damaged = bytearray(blob)
        damaged[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(checkpoint.CheckpointError):
            checkpoint.decode(bytes(damaged), FINGERPRINT)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bit=st.integers(0, 10**9), cut=st.none() | st.floats(0, 1, exclude_max=True))
def test_resume_refuses_a_damaged_checkpoint_with_one_line_and_keeps_it(saved, tmp_path, bit, cut):
    """Through checkpoint.resume: a flipped bit or a truncation is one InputError line naming the file, the file is
    kept as it was, and the model keeps its own (fresh) weights."""
    blob = bytearray(saved[0])
    if cut is None:
        blob[bit // 8 % len(blob)] ^= 1 << (bit % 8)
    else:
        blob = blob[: int(cut * len(blob))]
    path = tmp_path / "run.pt"
    path.write_bytes(bytes(blob))
    torch.manual_seed(1)
    model = EntryV10Model(TINY)
    fresh = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(InputError, match="cannot be resumed.*delete it to start over") as refusal:
        checkpoint.resume(path, model, training.make_optimizer(model, 1e-3, 0.01), FINGERPRINT)
    assert "\n" not in str(refusal.value) and str(path) in str(refusal.value)
    assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(bytes(blob)).digest()
    assert all(torch.equal(model.state_dict()[k], v) for k, v in fresh.items())


def set_history(epochs=None, steps=None, epoch=None):
    def edit(state):
        if epochs is not None:
            state["history"]["epochs"] = epochs(state["history"]["epochs"])
        if steps is not None:
            state["history"]["steps"] = steps(state["history"]["steps"])
        if epoch is not None:
            state["epoch"] = epoch
    return edit


@pytest.mark.parametrize("edit, message", [
    (set_history(epochs=lambda e: [], steps=lambda s: []), "truncated or emptied"),
    (set_history(epochs=lambda e: [], steps=lambda s: [], epoch=0), "truncated or emptied"),
    (set_history(steps=lambda s: s[:-1]), "1 step rows for 2 steps"),
    (set_history(steps=lambda s: [], epochs=lambda e: [{**e[0], "steps": 0}]), "step count"),
    (set_history(epochs=lambda e: [{**e[0], "epoch": 2}]), "numbered 1..n"),
    (set_history(steps=lambda s: [s[1], s[0]]), "step rows are not numbered"),
    (set_history(epochs=lambda e: [{**e[0], "steps": 1}], steps=lambda s: s[:1]), "optimizer has taken"),
    (set_history(epochs=lambda e: e + [{**e[0], "epoch": 2}], steps=lambda s: s + [{**s[0], "step": 3, "epoch": 2},
                                                                                   {**s[1], "step": 4, "epoch": 2}], epoch=2),
     "optimizer has taken"),
    (lambda state: state.update(fingerprint="{}"), "recorded fingerprint"),
    (lambda state: state["history"].update(epochs=[{"epoch": 1, "steps": 10**12}]), "step rows for 1000000000000"),
], ids=["emptied", "emptied_epoch_0", "steps_cut", "zero_steps", "renumbered", "steps_swapped", "history_shorter_than_optimizer",
        "history_longer_than_optimizer", "fingerprint_inside", "absurd_step_count"])
def test_an_inconsistent_history_is_refused_even_with_a_recomputed_sha256(saved, tmp_path, edit, message):
    forged = reencode(saved[0], edit)
    with pytest.raises(checkpoint.CheckpointError, match=message):
        checkpoint.decode(forged, FINGERPRINT)
    with pytest.raises(InputError, match="cannot be resumed"):
        resume_from(forged, tmp_path)


def test_another_runs_or_an_old_format_checkpoint_is_refused(saved, tmp_path):
    with pytest.raises(checkpoint.CheckpointError, match="another run"):
        checkpoint.decode(saved[0], {**FINGERPRINT, "seed": 2})
    content = saved[0][saved[0].index(b"\n", len(checkpoint.MAGIC)) + 1:]
    with pytest.raises(checkpoint.CheckpointError, match="not a gx1 checkpoint"):
        checkpoint.decode(content, FINGERPRINT)  # a bare torch.save file, as gx1 wrote before
    for empty in (b"", checkpoint.MAGIC):
        with pytest.raises(checkpoint.CheckpointError):
            checkpoint.decode(empty, FINGERPRINT)


def test_a_compressed_record_is_refused_without_inflating(saved):
    """A forger who recomputes the sha256 still cannot make resume inflate a zip bomb."""
    content = saved[0][saved[0].index(b"\n", len(checkpoint.MAGIC)) + 1:]
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info), compress_type=zipfile.ZIP_DEFLATED)
        target.writestr("archive/data/999", bytes(1 << 20), compress_type=zipfile.ZIP_DEFLATED)
    with pytest.raises(checkpoint.CheckpointError, match="compressed"):
        checkpoint.decode(checkpoint.encode(buffer.getvalue(), FINGERPRINT), FINGERPRINT)


def test_a_checkpoint_path_that_is_not_a_regular_file_is_one_line(tmp_path):
    (tmp_path / "target.pt").write_bytes(b"x")
    (tmp_path / "run.pt").symlink_to(tmp_path / "target.pt")
    model = EntryV10Model(TINY)
    with pytest.raises(InputError, match="symbolic link"):
        checkpoint.resume(tmp_path / "run.pt", model, training.make_optimizer(model, 1e-3, 0.01), FINGERPRINT)


# ----------------------------------------------------------------------------- a real run


@pytest.mark.slow  # trains: one killed run, one refused restart (it stops before its first step)
def test_a_real_run_never_resumes_from_a_damaged_checkpoint(small_pipeline, tmp_path):
    argv = train_argv(small_pipeline, tmp_path / "run", "--limit_samples", "700")
    killed = run_train(argv, extra_env={"GX1_FAULT_KILL_AFTER_EPOCH": "1"})
    assert killed.returncode == 137, killed.stderr
    [path] = (tmp_path / "run.checkpoints").glob("*.pt")
    intact = path.read_bytes()
    state = torch.load(io.BytesIO(intact[intact.index(b"\n", len(checkpoint.MAGIC)) + 1:]), weights_only=True)
    fingerprint = json.loads(state["fingerprint"])
    assert checkpoint.decode(intact, fingerprint)  # a real run's checkpoint passes every check
    state["history"] = {"epochs": [], "steps": []}  # the emptied history, in a valid envelope: refused
    buffer = io.BytesIO()
    torch.save(state, buffer)
    with pytest.raises(checkpoint.CheckpointError, match="truncated or emptied"):
        checkpoint.decode(checkpoint.encode(buffer.getvalue(), fingerprint), fingerprint)
    path.write_bytes(flip(intact, len(intact) // 2))
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    rerun = run_train(argv)
    assert rerun.returncode == 2, (rerun.stdout, rerun.stderr)
    assert len(rerun.stderr.strip().splitlines()) == 1 and "cannot be resumed" in rerun.stderr, rerun.stderr
    assert "resumed from" not in rerun.stdout
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before  # nothing written, checkpoint kept
    # the intact checkpoint of a real run is resumed from, to the uninterrupted run's bytes: test_train.py's
    # test_killed_run_resumes_to_identical_bytes


def flip(blob: bytes, offset: int) -> bytes:
    damaged = bytearray(blob)
    damaged[offset] ^= 0x10
    return bytes(damaged)
