"""Portable mode pins every float code path: numpy's on every x86-64 CPU with AVX2, MKL's per CPU vendor, any thread count.

What decides a float's bytes on a CPU is the code path each library picks: numpy's SIMD dispatch, numpy's
OpenBLAS core type and threads, ATen's kernels, and MKL's gemm branch (its AVX2 pin holds on Intel CPUs;
AMD CPUs take MKL's own path). ``gx1.cpu`` pins every one of them; ``gx1.fingerprint`` hashes what the
pinned kernels give on seeded inputs (the dataset's numpy code, a scaler, every aten op of a training
step, inference). These tests check, on whatever machine runs them:

* the committed ``machine_fingerprint.json`` (made on the machine that made ``dvc.lock``) is this
  machine's fingerprint (its numpy and scikit-learn kernels on a CPU of another vendor), and the committed
  lock's data, dataset and contract outs are rebuilt byte for byte (the cross-vendor check where CI runs
  on another vendor's CPU);
* the fingerprint does not move with MKL capped at AVX2 or at 1, 2 and 4 threads, and does move when a
  pin changes (MKL's COMPATIBLE branch; numpy's AVX-512 loops where the CPU has them), so it can fail;
* a bar's prediction does not depend on how many bars are predicted with it;
* ``gx1.doctor`` says in one line whether a fingerprint is reproduced (exit 0) or which kernel differs
  and what to pin (exit 1), against a fingerprint from a simulated other machine.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from gx1.cpu import PORTABLE_PINS, cpu_identity, isa_level

REPO = Path(__file__).resolve().parents[1]
FINGERPRINT_FILE = REPO / "machine_fingerprint.json"
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in PORTABLE_PINS and not k.startswith(("MKL_", "OMP_", "GX1_"))}
FINGERPRINT_CODE = "import gx1, json; from gx1.fingerprint import arithmetic_fingerprint; print(json.dumps(arithmetic_fingerprint()))"


def has_avx512() -> bool:
    return cpu_identity()["isa_level"] == "x86-64-v4"


def fingerprint(**env: str) -> dict:
    result = subprocess.run([sys.executable, "-c", FINGERPRINT_CODE], capture_output=True, text=True, cwd=REPO,
                            env={**CLEAN_ENV, "PYTHONPATH": str(REPO), **env}, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def doctor(*argv: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gx1.doctor", *argv], capture_output=True, text=True, cwd=REPO,
                          env={**CLEAN_ENV, "PYTHONPATH": str(REPO), **env}, timeout=300)


def same_vendor_as_the_fingerprint() -> bool:
    return json.loads(FINGERPRINT_FILE.read_text())["made_on"]["vendor"] == cpu_identity()["vendor"]


def vendor_neutral(kernels: dict) -> dict:
    return {k: v for k, v in kernels.items() if k.startswith(("numpy ", "sklearn "))}


@pytest.mark.slow
def test_this_machine_reproduces_the_committed_fingerprint():
    """Whole on a CPU of the vendor that made it; its numpy and scikit-learn kernels on any CPU."""
    if same_vendor_as_the_fingerprint():
        result = doctor()
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.startswith("this machine reproduces machine_fingerprint.json") and result.stdout.count("\n") == 1
    else:
        committed = json.loads(FINGERPRINT_FILE.read_text())["kernels"]
        assert vendor_neutral(fingerprint()["kernels"]) == vendor_neutral(committed)


@pytest.mark.slow
def test_kernels_do_not_depend_on_threads_or_the_cpus_instruction_sets():
    """MKL capped at AVX2 (what it runs on a CPU without AVX-512), and 1, 2, 4 threads. The controls undo one pin
    each and must change the fingerprint (numpy's AVX-512 loops only where this CPU has them)."""
    reference = fingerprint()["kernels"]
    committed = json.loads(FINGERPRINT_FILE.read_text())["kernels"]
    assert (reference if same_vendor_as_the_fingerprint() else vendor_neutral(reference)) == \
        (committed if same_vendor_as_the_fingerprint() else vendor_neutral(committed))
    for env in ({"OMP_NUM_THREADS": "1"}, {"OMP_NUM_THREADS": "4"}, {"MKL_ENABLE_INSTRUCTIONS": "AVX2"}):
        assert fingerprint(**env)["kernels"] == reference, env
    other_branch = fingerprint(MKL_CBWR="COMPATIBLE,STRICT")["kernels"]  # MKL's vendor-neutral branch
    assert other_branch["torch aten.mm.default"] != reference["torch aten.mm.default"]
    if has_avx512():
        uncapped = fingerprint(NPY_DISABLE_CPU_FEATURES="", ATEN_CPU_CAPABILITY="avx512")["kernels"]
        assert [k for k in reference if uncapped[k] != reference[k] and k.startswith("numpy ")]


def test_a_bars_prediction_does_not_depend_on_the_batch():
    import torch

    from gx1.models.entry_v10.inputs import INFERENCE_BLOCK, predict_samples
    from gx1.models.entry_v10.model import EntryV10Config, EntryV10Model
    torch.manual_seed(0)
    model = EntryV10Model(EntryV10Config(n_seq_features=15, n_snap_features=16, ctx_cat_cardinalities=[4, 3, 3, 7, 3],
                                         n_ctx_cont=2)).eval()
    for parameter in model.parameters():
        parameter.data.normal_(0, 0.1)
    n = 3 * INFERENCE_BLOCK + 5
    seq, snap, cont = torch.randn(n, 30, 15), torch.randn(n, 16), torch.randn(n, 2)
    cat = torch.randint(0, 3, (n, 5))
    everything = predict_samples(model, seq, snap, cat, cont)
    for start, stop in ((0, 1), (7, 8), (5, 70), (n - 3, n), (13, 13 + 2 * INFERENCE_BLOCK)):
        part = predict_samples(model, seq[start:stop], snap[start:stop], cat[start:stop], cont[start:stop])
        assert torch.equal(part, everything[start:stop]), (start, stop)


@pytest.mark.slow
def test_doctor_names_the_kernel_a_simulated_other_machine_differs_in(tmp_path):
    other = json.loads(FINGERPRINT_FILE.read_text())
    other["kernels"]["torch aten.addmm.default"] = "0" * 16  # another machine's gemm
    other["cpu_pins"]["MKL_CBWR"] = "COMPATIBLE,STRICT"
    (tmp_path / "other.json").write_text(json.dumps(other))
    result = doctor("--fingerprint", str(tmp_path / "other.json"))
    assert result.returncode == 1 and result.stdout == "" and result.stderr.count("\n") == 1, result.stderr
    assert "more of 93 kernels give other bytes than" in result.stderr
    assert "MKL_CBWR=COMPATIBLE,STRICT (here AVX2,STRICT)" in result.stderr
    (tmp_path / "notes.json").write_text("{}")
    refused = doctor("--write", str(tmp_path / "notes.json"))
    assert refused.returncode == 2 and "not overwritten" in refused.stderr and (tmp_path / "notes.json").read_text() == "{}"


@pytest.mark.slow
def test_the_committed_lock_data_stages_are_rebuilt_byte_for_byte(tmp_path):
    """data -> dataset -> contract, with the committed params, give the md5s dvc.lock records."""
    lock = yaml.safe_load((REPO / "dvc.lock").read_text())["stages"]
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for name in ("data", "dataset", "contract"):
        cmd = stages[name]["cmd"]
        for key in [part.split("}")[0] for part in cmd.split("${")[1:]]:
            value = params
            for piece in key.split("."):
                value = value[piece]
            cmd = cmd.replace("${" + key + "}", str(value).lower() if isinstance(value, bool) else str(value))
        work = tmp_path / "repo"
        if name == "data":
            work.mkdir()
            (work / "params.yaml").write_text((REPO / "params.yaml").read_text())
        result = subprocess.run(cmd, shell=True, cwd=work, capture_output=True, text=True, timeout=300,
                                env={**CLEAN_ENV, "PYTHONPATH": str(REPO)})
        assert result.returncode == 0, result.stderr
        for out in lock[name]["outs"]:
            path = work / out["path"]
            if path.is_file():
                assert hashlib.md5(path.read_bytes()).hexdigest() == out["md5"], out["path"]


@pytest.mark.parametrize("flags, level", [
    ("fpu sse2 ssse3 sse4_1 sse4_2 popcnt cx16 lahf_lm avx avx2 bmi1 bmi2 f16c fma movbe", "x86-64-v3"),
    ("fpu sse2 ssse3 sse4_1 sse4_2 popcnt cx16 lahf_lm avx avx2 bmi1 bmi2 f16c fma movbe avx512f avx512bw avx512cd "
     "avx512dq avx512vl", "x86-64-v4"),
    ("fpu sse2 avx512f avx512bw avx512cd avx512dq avx512vl", "x86-64"),  # v4 flags without the levels below
    ("fpu sse2 ssse3 sse4_1 sse4_2 popcnt cx16 lahf_lm", "x86-64-v2"),
])
def test_isa_level_and_cpu_identity(flags, level):
    assert isa_level(set(flags.split())) == level
    info = f"processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nflags\t\t: {flags}\n\nprocessor\t: 1\n"
    assert cpu_identity(info) == {"vendor": "AuthenticAMD", "model": "AMD EPYC 7B13", "isa_level": level}
