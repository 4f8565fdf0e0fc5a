"""Which operations of an entry_v10 training step give different bytes at different thread counts?

Run (light: a few steps on one batch, one child process at a time; about 30 s per env):
    nice -n 10 python3 scripts/probe_threads.py                       # portable env, invariant kernels, 1/2/4 threads
    nice -n 10 python3 scripts/probe_threads.py --impl stock          # the stock kernels (before the fix)
    nice -n 10 python3 scripts/probe_threads.py --env native --impl stock
    nice -n 10 python3 scripts/probe_threads.py --env portable,portable-avx2only,native --op_steps 0
    nice -n 10 python3 scripts/probe_threads.py --ff_activation gelu --batch 37     # other shapes
    nice -n 10 python3 scripts/probe_threads.py --gemm_sweep --env portable,native  # mm/addmm over 180 shapes
    nice -n 10 python3 scripts/probe_threads.py --bench --env portable,native       # train steps/s, stock vs invariant
    python3 scripts/probe_threads.py --save here.json     # on machine A; then on machine B, same probe, A's records beside:
    python3 scripts/probe_threads.py --against here.json  # which op first gives other bytes on B than on A (other CPU/torch)

The exit status is 0 when every compared run ended with the same state_dict bytes (--gemm_sweep: every gemm).

Each (env, thread count) runs in its own subprocess, with the env set before torch is imported:
  portable          MKL_CBWR=AVX2,STRICT ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 (gx1.cpu)
  portable-avx2only portable + MKL_ENABLE_INSTRUCTIONS=AVX2 (emulates a CPU without AVX-512)
  portable-compatible portable with MKL_CBWR=COMPATIBLE,STRICT (MKL's vendor-neutral branch; docs/reproducibility.md)
  native            GX1_REPRODUCIBILITY=native MKL_CBWR=AUTO,STRICT (what gx1 sets in native mode), no other pin
The child builds EntryV10Model (default EntryV10Config, 15 seq + 16 snap features, context 5 cat + 2 cont),
and runs --steps training steps (forward, losses, backward, gradient clipping, fused AdamW) on fixed random
batches (batch 64, seq_len 30), as the trainer does. It records the sha of

  * every module's output (forward hooks), every loss, every parameter's gradient, the gradient norm,
    every weight after the optimizer step (tensor level), and
  * every aten operation (a TorchDispatchMode): its tensor inputs before the call, its outputs and its
    (possibly in-place mutated) tensor arguments after it (op level), for the first --op_steps steps.

The parent compares the children: a tensor-level key differs when its bytes differ between thread counts;
an operation is *thread-dependent* when, at the same position in the op sequence, its inputs are
byte-identical across thread counts and its outputs are not (the root causes; everything downstream of
them differs too). Operations whose inputs matched and whose outputs also matched are listed as
thread-invariant evidence (e.g. the gemms under MKL strict CNR).

--impl stock runs the model with the invariant kernels switched off (``invariant_ops.use_stock_kernels``):
the training step as it was before. Both use torch.nn.utils.clip_grad_norm_ and torch.optim.AdamW(fused=True),
as the trainer does (both are thread-invariant: see invariant_ops' docstring).

--bench: train steps/s (the trainer's step minus the batch gather) of the stock and the invariant kernels, in
short windows alternating in one process per env (stock, invariant, invariant, stock, ...), so that load from
other processes hits both alike; prints medians, the fastest quarter of windows and the per-pair ratio.
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import hashlib
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PORTABLE = {"MKL_CBWR": "AVX2,STRICT", "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}  # gx1.cpu
ENVS = {
    "portable": {"GX1_REPRODUCIBILITY": "portable", **PORTABLE},
    "portable-avx2only": {"GX1_REPRODUCIBILITY": "portable", **PORTABLE, "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "portable-compatible": {"GX1_REPRODUCIBILITY": "portable", **PORTABLE, "MKL_CBWR": "COMPATIBLE,STRICT"},
    "native": {"GX1_REPRODUCIBILITY": "native", "MKL_CBWR": "AUTO,STRICT"},  # what gx1/__init__.py sets in native mode
}
PINNED_NAMES = ("MKL_CBWR", "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS", "GX1_REPRODUCIBILITY")
CTX_CAT_CARDINALITIES = [4, 3, 3, 7, 3]
# flag -> TrainConfig knob: a flag left unset takes the trainer's default (``with_trainer_defaults``, in the child)
TRAINER_FLAGS = {"batch": "batch_size", "seq_len": "seq_len", "grad_clip": "grad_clip", "seed": "seed",
                 "weight_decay": "weight_decay", "learning_rate": "learning_rate"}


def child_env(name: str, threads: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in PINNED_NAMES}
    env.update(ENVS[name])
    # torch.set_num_threads decides; keep OpenMP/MKL from adapting the thread count behind our back
    env.update({"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "MKL_DYNAMIC": "FALSE",
                "OMP_DYNAMIC": "FALSE", "PYTHONPATH": str(REPO) + os.pathsep + env.get("PYTHONPATH", "")})
    return env


# ----------------------------------------------------------------------------------------------- child
def with_trainer_defaults(cfg: dict) -> dict:
    """``cfg`` with the trainer's default (gx1/training/config.py) for every flag left unset. Called in a child, after
    its environment is set: the parent never imports gx1, whose import pins the CPU code path."""
    from gx1.training.config import knob_defaults
    knobs = knob_defaults()
    return {**cfg, **{flag: knobs[knob] for flag, knob in TRAINER_FLAGS.items() if cfg.get(flag) is None}}


def run_child(cfg: dict) -> dict:
    import numpy as np
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten, tree_leaves, tree_unflatten

    import gx1  # noqa: F401  (the env is complete already: gx1's setdefault pins change nothing)
    from gx1.models.entry_v10 import invariant_ops
    from gx1.models.entry_v10.model import EntryV10Config, EntryV10Model
    from gx1.training.run import make_optimizer
    cfg = with_trainer_defaults(cfg)

    torch.set_num_threads(cfg["threads"])
    torch.use_deterministic_algorithms(True)

    def sha(t: torch.Tensor) -> str:
        t = t.detach()
        if t.layout != torch.strided:
            return "non-strided"
        return hashlib.blake2b(t.contiguous().view(-1).view(torch.uint8).numpy().tobytes(), digest_size=8).hexdigest()

    def tensors(obj):
        return [x for x in tree_leaves(obj) if isinstance(x, torch.Tensor)]

    class OpLog(TorchDispatchMode):
        def __init__(self, log: list, phase: list):
            super().__init__()
            self.log, self.phase = log, phase

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            ins = tensors((args, kwargs))
            pre = [sha(t) for t in ins]
            out = func(*args, **kwargs)
            post = [sha(t) for t in ins] + [sha(t) for t in tensors(out)]
            shapes = [tuple(t.shape) for t in ins]
            self.log.append((self.phase[0], str(func), shapes, pre, post))
            if cfg.get("replay"):
                replay(func, args, kwargs)
            return out

    def synthetic(t: torch.Tensor, gen) -> torch.Tensor:
        """A tensor laid out exactly like ``t`` (size, stride, offset) with seeded normal floats; others copied."""
        if not t.is_floating_point() or t.dim() == 0:
            return t.clone()
        elements = t.untyped_storage().nbytes() // t.element_size()
        base = torch.from_numpy(gen.standard_normal(elements, dtype=np.float32)).to(t.dtype)
        return base.as_strided(t.shape, t.stride(), t.storage_offset())

    def replay(func, args, kwargs):
        """The op once more on inputs every machine draws alike (numpy's seeded generator): its output bytes test
        this op alone, whatever happened upstream (a cross-machine comparison otherwise stops at the first cause)."""
        index = len(ops)
        gen = np.random.default_rng(index)
        leaves, spec = tree_flatten((args, kwargs))
        fresh = [synthetic(x, gen) if isinstance(x, torch.Tensor) else x for x in leaves]
        new_args, new_kwargs = tree_unflatten(fresh, spec)
        try:
            result = func(*new_args, **new_kwargs)
        except Exception as exc:  # an op that refuses random inputs is skipped, and says so
            records[f"replay/{index:04d} {func}"] = f"skipped: {type(exc).__name__}"
            return
        records[f"replay/{index:04d} {func}"] = "/".join(sha(t) for t in tensors(fresh) + tensors(result))

    records: dict[str, str] = {}
    model_cfg = EntryV10Config(n_seq_features=15, n_snap_features=16, seq_len=cfg["seq_len"],
                               ctx_cat_cardinalities=CTX_CAT_CARDINALITIES, n_ctx_cont=2,
                               ff_activation=cfg["ff_activation"])
    torch.manual_seed(cfg["seed"])
    model = EntryV10Model(model_cfg)
    model.ctx_cont_mean.fill_(0.25)
    model.ctx_cont_std.fill_(1.5)
    names = {id(p): n for n, p in model.named_parameters()}
    if cfg["impl"] == "stock":
        stock = invariant_ops.use_stock_kernels()
        stock.__enter__()
    optimizer = make_optimizer(model, cfg["lr"], cfg["weight_decay"])  # the trainer's optimizer

    def clip(params, max_norm):
        return torch.nn.utils.clip_grad_norm_(params, max_norm).item()

    rng = np.random.default_rng(7)
    batch, length = cfg["batch"], cfg["seq_len"]

    def make_batch():
        seq = torch.from_numpy(rng.standard_normal((batch, length, 15), dtype=np.float32))
        snap = torch.from_numpy(rng.standard_normal((batch, 16), dtype=np.float32))
        ctx_cat = torch.from_numpy(np.stack([rng.integers(0, c, batch) for c in CTX_CAT_CARDINALITIES], 1))
        ctx_cont = torch.from_numpy(rng.standard_normal((batch, 2), dtype=np.float32))
        labels = torch.from_numpy(np.stack([rng.integers(0, 2, batch), rng.integers(0, 2, batch),
                                            rng.standard_normal(batch)], 1).astype(np.float32))
        return seq, snap, ctx_cat, ctx_cont, labels

    records["init/state_dict"] = hashlib.blake2b(
        b"".join(bytes.fromhex(sha(v)) for v in model.state_dict().values()), digest_size=8).hexdigest()
    ops: list = []
    phase = ["forward"]
    current_step = [0]
    hooks = []
    for mod_name, module in model.named_modules():
        if mod_name:
            hooks.append(module.register_forward_hook(
                lambda m, i, o, mod_name=mod_name: records.__setitem__(f"step{current_step[0]}/act/{mod_name}", sha(o))))
    for step in range(cfg["steps"]):
        current_step[0] = step
        seq, snap, ctx_cat, ctx_cont, labels = make_batch()
        mode = OpLog(ops, phase) if step < cfg["op_steps"] else None
        if mode:
            mode.__enter__()
        phase[0] = f"step{step}/forward"
        losses = model.losses(model(seq, snap, ctx_cat, ctx_cont), labels[:, 0], labels[:, 1], labels[:, 2])
        optimizer.zero_grad(set_to_none=True)
        phase[0] = f"step{step}/backward"
        losses["total"].backward()
        for n, p in model.named_parameters():
            records[f"step{step}/grad/{n}"] = sha(p.grad)
        phase[0] = f"step{step}/clip"
        grad_norm = clip(model.parameters(), cfg["grad_clip"])
        phase[0] = f"step{step}/optimizer"
        optimizer.step()
        if mode:
            mode.__exit__(None, None, None)
        for k, v in losses.items():
            records[f"step{step}/loss/{k}"] = sha(v)
        records[f"step{step}/grad_norm"] = float(grad_norm).hex()
        for n, p in model.named_parameters():
            records[f"step{step}/weight/{n}"] = sha(p)
        for p, state in optimizer.state.items():
            for k, v in state.items():
                if isinstance(v, torch.Tensor) and k != "step":
                    records[f"step{step}/opt_state/{names[id(p)]}.{k}"] = sha(v)
    final = hashlib.sha256(b"".join(v.detach().contiguous().view(-1).view(torch.uint8).numpy().tobytes()
                                    for v in model.state_dict().values())).hexdigest()
    records["final/state_dict_sha256"] = final
    return {"records": records, "ops": ops, "torch": torch.__version__, "pins": {k: os.environ.get(k) for k in PINNED_NAMES},
            "capability": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads()}


def run_gemm_child(cfg: dict) -> dict:
    """Every (m, k, n) of GEMM_SIZES as mm, as mm with a transposed left operand (weight gradients) and as addmm."""
    import torch

    import gx1  # noqa: F401

    torch.set_num_threads(cfg["threads"])
    out = {}
    gen = torch.Generator().manual_seed(0)
    for m in GEMM_SIZES["m"]:
        for k in GEMM_SIZES["k"]:
            for n in GEMM_SIZES["n"]:
                a, b = torch.randn(m, k, generator=gen), torch.randn(k, n, generator=gen)
                at, bias = a.t().contiguous().t(), torch.randn(n, generator=gen)
                for kind, value in (("mm", a @ b), ("mm_t", at @ b), ("addmm", torch.addmm(bias, a, b))):
                    out[f"{kind} m={m} k={k} n={n}"] = hashlib.blake2b(value.contiguous().view(-1).view(torch.uint8)
                                                                       .numpy().tobytes(), digest_size=8).hexdigest()
    return {"records": out, "ops": [], "torch": torch.__version__, "pins": {k: os.environ.get(k) for k in PINNED_NAMES},
            "capability": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads()}


def run_bench_child(cfg: dict) -> dict:
    """Train steps/s of the stock and the invariant kernels, in alternating windows (same process, same data)."""
    import time

    import numpy as np
    import torch

    import gx1  # noqa: F401
    from gx1.models.entry_v10 import invariant_ops
    from gx1.models.entry_v10.model import EntryV10Config, EntryV10Model
    from gx1.training.run import make_optimizer
    cfg = with_trainer_defaults(cfg)

    torch.set_num_threads(cfg["threads"])
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(0)
    batch, length = cfg["batch"], cfg["seq_len"]
    batches = [(torch.from_numpy(rng.standard_normal((batch, length, 15), dtype=np.float32)),
                torch.from_numpy(rng.standard_normal((batch, 16), dtype=np.float32)),
                torch.from_numpy(np.stack([rng.integers(0, c, batch) for c in CTX_CAT_CARDINALITIES], 1)),
                torch.from_numpy(rng.standard_normal((batch, 2), dtype=np.float32)),
                torch.from_numpy(rng.integers(0, 2, (batch, 3)).astype(np.float32))) for _ in range(8)]
    runs = {}
    for impl in ("stock", "invariant"):
        torch.manual_seed(cfg["seed"])
        model = EntryV10Model(EntryV10Config(n_seq_features=15, n_snap_features=16, seq_len=length,
                                             ctx_cat_cardinalities=CTX_CAT_CARDINALITIES, n_ctx_cont=2))
        runs[impl] = (model, make_optimizer(model, cfg["learning_rate"], cfg["weight_decay"]))

    def window(impl: str, steps: int) -> float:
        model, optimizer = runs[impl]
        context = invariant_ops.use_stock_kernels() if impl == "stock" else contextlib.nullcontext()
        with context:
            start = time.perf_counter()
            for i in range(steps):  # the trainer's train_step, minus the batch gather
                seq, snap, ctx_cat, ctx_cont, labels = batches[i % len(batches)]
                losses = model.losses(model(seq, snap, ctx_cat, ctx_cont), labels[:, 0], labels[:, 1], labels[:, 2])
                _ = {k: v.item() for k, v in losses.items()}
                optimizer.zero_grad(set_to_none=True)
                losses["total"].backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"]).item()
                optimizer.step()
            return steps / (time.perf_counter() - start)

    for impl in runs:
        window(impl, cfg["warmup"])
    rates = {impl: [] for impl in runs}
    for pair in range(cfg["windows"]):  # stock, invariant, invariant, stock, ...: no drift favours either
        for impl in (("stock", "invariant") if pair % 2 == 0 else ("invariant", "stock")):
            rates[impl].append(window(impl, cfg["window_steps"]))
    return {"records": {impl: statistics.median(r) for impl, r in rates.items()}, "rates": rates, "ops": [],
            "torch": torch.__version__, "pins": {k: os.environ.get(k) for k in PINNED_NAMES},
            "capability": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads()}


GEMM_SIZES = {"m": [1, 3, 64, 65, 960, 1920], "k": [2, 15, 64, 128, 320, 512], "n": [1, 3, 128, 384, 512]}


# ---------------------------------------------------------------------------------------------- parent
def spawn(env_name: str, threads: int, cfg: dict) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.pkl"
        payload = json.dumps({**cfg, "threads": threads, "out": str(out)})
        subprocess.run([sys.executable, __file__, "--child", payload], env=child_env(env_name, threads),
                       check=True, cwd=REPO)
        return pickle.loads(out.read_bytes())


def step_of(key: str) -> str:
    return key.split("/", 1)[0]


def compare(results: dict[str, dict], show: int) -> bool:
    labels = list(results)
    base = labels[0]
    print(f"\n== {', '.join(labels)}  (torch {results[base]['torch']}, capability {results[base]['capability']})")
    for lab in labels:
        print(f"  {lab}: torch threads {results[lab]['threads']}, env {results[lab]['pins']}")
    # tensor level
    keys = list(results[base]["records"])
    differing = [k for k in keys if len({results[lab]["records"].get(k) for lab in labels}) > 1]
    by_step = collections.OrderedDict()
    for k in keys:
        by_step.setdefault(step_of(k), [0, []])
        by_step[step_of(k)][0] += 1
    for k in differing:
        by_step[step_of(k)][1].append(k)
    for step, (total, diff) in by_step.items():
        print(f"  {step}: {len(diff)}/{total} recorded tensors differ")
        for k in diff[:show]:
            print(f"      {k}: " + " ".join(f"{lab}={results[lab]['records'].get(k)}" for lab in labels))
        if len(diff) > show:
            print(f"      ... {len(diff) - show} more")
    # op level
    ops = {lab: results[lab]["ops"] for lab in labels}
    n = min(len(v) for v in ops.values())
    if len({len(v) for v in ops.values()}) > 1:
        print(f"  op sequences differ in length: {[len(v) for v in ops.values()]} (compared the first {n})")
    dependent, invariant = collections.OrderedDict(), collections.Counter()
    for i in range(n):
        entries = [ops[lab][i] for lab in labels]
        phase, name, shapes, pre, _ = entries[0]
        if any(e[1] != name for e in entries):
            print(f"  op #{i}: different ops {[e[1] for e in entries]}: sequences diverge, stopping the op comparison")
            break
        if any(e[3] != pre for e in entries):
            continue  # inputs already differ: downstream of a root cause
        if all(e[4] == entries[0][4] for e in entries):
            invariant[name] += 1
        else:
            key = (phase.split("/", 1)[1], name, str(shapes))
            dependent.setdefault(key, []).append(i)
    print(f"  thread-dependent ops (same input bytes, different output bytes): {len(dependent)}")
    for (phase, name, shapes), idx in dependent.items():
        print(f"      [{phase}] {name} inputs {shapes}  (x{len(idx)}, first op #{idx[0]})")
    print("  ops with same inputs and same outputs (thread-invariant here): "
          + ", ".join(f"{k.split('.')[1] if k.startswith('aten.') else k} x{v}" for k, v in sorted(invariant.items())))
    finals = {lab: results[lab]["records"]["final/state_dict_sha256"] for lab in labels}
    same = len(set(finals.values())) == 1
    print("  final state_dict sha256: " + ("IDENTICAL " + finals[base] if same else
                                            " ".join(f"{lab}={v[:16]}" for lab, v in finals.items())))
    return same


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        cfg = json.loads(sys.argv[2])
        result = (run_gemm_child(cfg) if cfg.get("gemm_sweep") else run_bench_child(cfg) if cfg.get("bench")
                  else run_child(cfg))
        Path(cfg["out"]).write_bytes(pickle.dumps(result))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="portable", help=f"comma-separated, of {sorted(ENVS)}")
    parser.add_argument("--threads", default="1,2,4")
    parser.add_argument("--impl", choices=("stock", "invariant"), default="invariant")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--op_steps", type=int, default=1, help="steps logged at the op level")
    parser.add_argument("--batch", type=int, help="default: the trainer's batch_size")
    parser.add_argument("--seq_len", type=int, help="default: the trainer's seq_len")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--grad_clip", type=float, help="default: the trainer's grad_clip")
    parser.add_argument("--ff_activation", default="relu")
    parser.add_argument("--gemm_sweep", action="store_true", help="instead: mm/addmm over a grid of shapes (GEMM_SIZES)")
    parser.add_argument("--bench", action="store_true",
                        help="instead: train steps/s, stock vs invariant kernels, per env, at --threads (one count)")
    parser.add_argument("--windows", type=int, default=30, help="--bench: measured windows per kernel set")
    parser.add_argument("--window_steps", type=int, default=5, help="--bench: train steps per window")
    parser.add_argument("--show", type=int, default=12, help="differing tensors listed per step")
    parser.add_argument("--replay", action="store_true", help="also run every logged op on seeded synthetic inputs "
                        "(records replay/...): each op compared on its own, for --against across machines")
    parser.add_argument("--save", type=Path, help="also write the runs' records (JSON) for --against on another machine")
    parser.add_argument("--against", type=Path, help="compare each run with the run of the same label saved (--save) "
                        "on another machine: the ops whose inputs match and outputs differ there are the cross-machine causes")
    args = parser.parse_args()
    if args.gemm_sweep:
        envs, threads = args.env.split(","), [int(t) for t in args.threads.split(",")]
        results = {f"{env}/t{t}": spawn(env, t, {"gemm_sweep": True}) for env in envs for t in threads}
        ok = True
        for env in envs:
            sub = {k: v for k, v in results.items() if k.startswith(env + "/")}
            keys = list(next(iter(sub.values()))["records"])
            diff = [k for k in keys if len({r["records"][k] for r in sub.values()}) > 1]
            print(f"{env}: {len(keys) - len(diff)}/{len(keys)} gemm results identical across threads {threads}")
            for k in diff[:args.show]:
                print(f"    differs: {k}")
            ok &= not diff
        return 0 if ok else 1
    if args.bench:
        threads = int(args.threads.split(",")[0]) if args.threads != "1,2,4" else 2
        print(f"train steps/s at {threads} threads, batch {args.batch or 'default'}, seq_len {args.seq_len or 'default'}: {args.windows} windows of "
              f"{args.window_steps} steps per kernel set, stock and invariant alternating in one process per env")
        for env in args.env.split(","):
            bench_cfg = {"bench": True, "batch": args.batch, "seq_len": args.seq_len, "warmup": 5,
                         "windows": args.windows, "window_steps": args.window_steps}
            result = spawn(env, threads, bench_cfg)
            rates = result["rates"]
            ratios = sorted(b / a for a, b in zip(rates["stock"], rates["invariant"]))

            def fastest_quarter(r):
                r = sorted(r, reverse=True)[:max(1, len(r) // 4)]
                return sum(r) / len(r)
            print(f"  {env:10s} {result['threads']} threads  median steps/s: stock {statistics.median(rates['stock']):6.2f}  "
                  f"invariant {statistics.median(rates['invariant']):6.2f}   fastest quarter of windows: stock "
                  f"{fastest_quarter(rates['stock']):6.2f}  invariant {fastest_quarter(rates['invariant']):6.2f}   "
                  f"invariant/stock per adjacent pair: median {statistics.median(ratios):.3f} "
                  f"(quartiles {ratios[len(ratios) // 4]:.3f}-{ratios[3 * len(ratios) // 4]:.3f})")
        return 0
    cfg = {k: getattr(args, k) for k in ("impl", "steps", "op_steps", "batch", "seq_len", "lr", "grad_clip", "ff_activation",
                                         "replay")}
    threads = [int(t) for t in args.threads.split(",")]
    print(f"impl {args.impl}, {args.steps} steps (op level: {args.op_steps}), batch {args.batch or 'default'}, seq_len {args.seq_len or 'default'}, "
          f"ff_activation {args.ff_activation}, threads {threads}")
    results = {f"{env}/t{t}": spawn(env, t, cfg) for env in args.env.split(",") for t in threads}
    if args.save:
        args.save.write_text(json.dumps(results))
    if args.against:  # JSON keeps lists where the child had tuples: compare like with like
        other = json.loads(args.against.read_text())
        results = json.loads(json.dumps(results))
        same = True
        for label in results:
            if label in other:
                same &= compare({f"here/{label}": results[label], f"saved/{label}": other[label]}, args.show)
        return 0 if same else 1
    all_same = True
    for env in args.env.split(","):
        all_same &= compare({k: v for k, v in results.items() if k.startswith(env + "/")}, args.show)
    if len(args.env.split(",")) > 1:
        all_same &= compare(results, args.show)
    return 0 if all_same else 1


if __name__ == "__main__":
    sys.exit(main())
