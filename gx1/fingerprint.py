"""The arithmetic fingerprint of a machine: the bytes its pinned kernels give on seeded inputs.

Not a command: ``gx1.doctor`` computes, writes and compares fingerprints; the trainer records one in
every bundle (``bundle_metadata.json`` -> ``environment`` -> ``arithmetic_fingerprint``).

``arithmetic_fingerprint()`` returns ``{"version", "kernels": {name: hash}}`` (hash: 16 hex digits of
blake2b), one entry per kernel the pipeline's bytes depend on:

* ``numpy <column>``: each float column of the dataset built (``gx1.dataset.build_dataset``) from two
  weeks of the embedded synthetic bars (numpy's SIMD loops, numpy's OpenBLAS);
* ``sklearn scaler``: a StandardScaler fitted to those features (the contract's scalers);
* ``torch <aten op>``: every call of that aten operation in one training step of the default model
  (batch 64, seq_len 30: forward, losses, backward, gradient clipping, fused AdamW), each call run once
  more on inputs drawn from numpy's seeded generator with the call's own shapes and strides, so an
  entry tests that kernel alone, whatever happened upstream (the matmuls, CPU flash attention, layer
  norm, the activations, the optimizer);
* ``torch step weights``: the weights after that step (everything chained);
* ``torch inference``: ``inputs.predict_samples`` on 100 seeded samples.

In portable mode every entry is the same on every x86-64 CPU with AVX2 at any thread count (``gx1.cpu``);
``PIN_FOR`` says which pin decides an entry, so a difference can name what to set.
"""
from __future__ import annotations

import hashlib

import numpy as np

FINGERPRINT_VERSION = 1
GEMM_OPS = ("aten.mm.", "aten.addmm.", "aten.bmm.", "aten.baddbmm.")  # MKL's sgemm
ATTENTION_OPS = ("aten._scaled_dot_product",)  # CPU flash attention: MKL's sgemm inside ATen's vectorized kernel
PIN_FOR = {"numpy": ("NPY_DISABLE_CPU_FEATURES", "OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS"),
           "sklearn": ("NPY_DISABLE_CPU_FEATURES", "OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS"),
           "gemm": ("MKL_CBWR",), "attention": ("MKL_CBWR", "ATEN_CPU_CAPABILITY"),
           "torch": ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")}
CTX_CAT_CARDINALITIES = [4, 3, 3, 7, 3]
BATCH, SEQ_LEN, N_SEQ, N_SNAP = 64, 30, 15, 16


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def pins_for(kernel: str) -> tuple[str, ...]:
    """The environment variables that decide ``kernel``'s bytes."""
    family, _, op = kernel.partition(" ")
    if family == "torch" and op.startswith(GEMM_OPS):
        return PIN_FOR["gemm"]
    if family == "torch" and op.startswith(ATTENTION_OPS):
        return PIN_FOR["attention"]
    return PIN_FOR.get(family, PIN_FOR["torch"])


def numpy_kernels() -> dict[str, str]:
    """The dataset's float columns and a fitted scaler, built from two weeks of synthetic M5 bars."""
    from sklearn.preprocessing import StandardScaler

    from gx1.dataset import build_dataset
    from gx1.features import LabelConfig
    from gx1.synth import generate_gold_bars
    bars = {name: column[:4032] for name, column in generate_gold_bars(2025, seed=7).items()}
    columns = build_dataset(bars, LabelConfig(), "XAUUSD")
    kernels = {f"numpy {name}": digest(np.ascontiguousarray(values).tobytes())
               for name, values in sorted(columns.items()) if np.asarray(values).dtype.kind == "f"}
    features = np.column_stack([v for v in (np.asarray(columns[k]) for k in sorted(columns)) if v.dtype.kind == "f"])
    scaler = StandardScaler().fit(np.nan_to_num(features))
    kernels["sklearn scaler"] = digest(scaler.mean_.tobytes() + scaler.scale_.tobytes())
    return kernels


def torch_kernels() -> dict[str, str]:
    """Per aten op: the hashes of its calls in one training step, each call rerun on seeded inputs."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten, tree_leaves, tree_unflatten

    from gx1.models.entry_v10.inputs import predict_samples
    from gx1.models.entry_v10.model import EntryV10Config, EntryV10Model

    def tensor_digest(t: torch.Tensor) -> bytes:
        t = t.detach()
        if t.layout != torch.strided:
            return b"non-strided"
        return t.contiguous().view(-1).view(torch.uint8).numpy().tobytes()

    def synthetic(t: torch.Tensor, gen: np.random.Generator) -> torch.Tensor:
        """Laid out like ``t`` (size, stride, offset) with seeded normal floats (a float scalar: 1 + |normal|, a
        valid step count or norm); non-float tensors copied."""
        if not t.is_floating_point():
            return t.clone()
        if t.dim() == 0:
            return torch.tensor(1.0 + abs(gen.standard_normal()), dtype=t.dtype)
        elements = t.untyped_storage().nbytes() // t.element_size()
        base = torch.from_numpy(gen.standard_normal(elements, dtype=np.float32)).to(t.dtype)
        return base.as_strided(t.shape, t.stride(), t.storage_offset())

    calls: dict[str, list[str]] = {}

    class SeededRerun(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            name = f"torch {func}"
            gen = np.random.default_rng(sum(len(v) for v in calls.values()))
            leaves, spec = tree_flatten((args, kwargs))
            fresh = [synthetic(x, gen) if isinstance(x, torch.Tensor) else x for x in leaves]
            new_args, new_kwargs = tree_unflatten(fresh, spec)
            try:
                result = func(*new_args, **new_kwargs)
                tensors = [x for x in tree_leaves((fresh, result)) if isinstance(x, torch.Tensor)]
                calls.setdefault(name, []).append(digest(b"".join(tensor_digest(t) for t in tensors)))
            except Exception as exc:  # noqa: BLE001  an op that refuses random inputs is named, not hashed
                calls.setdefault(name, []).append(f"skipped {type(exc).__name__}")
            return out

    torch.manual_seed(1337)
    cfg = EntryV10Config(n_seq_features=N_SEQ, n_snap_features=N_SNAP, seq_len=SEQ_LEN,
                         ctx_cat_cardinalities=CTX_CAT_CARDINALITIES, n_ctx_cont=2)
    model = EntryV10Model(cfg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01, fused=True)
    rng = np.random.default_rng(7)
    seq = torch.from_numpy(rng.standard_normal((BATCH, SEQ_LEN, N_SEQ), dtype=np.float32))
    snap = torch.from_numpy(rng.standard_normal((BATCH, N_SNAP), dtype=np.float32))
    ctx_cat = torch.from_numpy(np.stack([rng.integers(0, c, BATCH) for c in CTX_CAT_CARDINALITIES], 1))
    ctx_cont = torch.from_numpy(rng.standard_normal((BATCH, 2), dtype=np.float32))
    labels = torch.from_numpy(rng.integers(0, 2, (BATCH, 3)).astype(np.float32))
    with SeededRerun():
        losses = model.losses(model(seq, snap, ctx_cat, ctx_cont), labels[:, 0], labels[:, 1], labels[:, 2])
        optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        torch.nn.utils.clip_grad_norm_(list(model.parameters()), 1.0)
        optimizer.step()
    kernels = {name: digest(" ".join(hashes).encode()) for name, hashes in sorted(calls.items())}
    kernels["torch step weights"] = digest(b"".join(tensor_digest(v) for v in model.state_dict().values()))
    model.eval()
    index = torch.from_numpy(rng.integers(0, BATCH, 100))
    outputs = predict_samples(model, seq[index], snap[index], ctx_cat[index], ctx_cont[index])
    kernels["torch inference"] = digest(tensor_digest(outputs))
    return kernels


_cache: dict = {}


def arithmetic_fingerprint() -> dict:
    """This process's fingerprint: ``{"version": FINGERPRINT_VERSION, "kernels": {name: hash}}`` (module docstring).

    Computed once per process (the pins cannot change after numpy and torch load); torch's random state and
    thread count are left as they were."""
    if not _cache:
        import torch
        threads = torch.get_num_threads()
        try:
            with torch.random.fork_rng(devices=[]):
                _cache["kernels"] = {**numpy_kernels(), **torch_kernels()}
        finally:
            torch.set_num_threads(threads)
    return {"version": FINGERPRINT_VERSION, "kernels": dict(_cache["kernels"])}


def differing_kernels(recorded: dict, here: dict) -> list[str]:
    """The kernel names whose hash differs (or that only one side has), in the recorded order."""
    a, b = recorded.get("kernels", {}), here.get("kernels", {})
    return [name for name in list(a) + [n for n in b if n not in a] if a.get(name) != b.get(name)]
