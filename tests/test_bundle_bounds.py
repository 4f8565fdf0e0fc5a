"""Bounded reading of bundles (issue 28, point 2): no bundle of at most 10 MB makes verify, replay or gx1.bundle
hang, blow up memory or crash, and the three give one verdict on the same bytes.

Each hostile case runs as real command lines in forked children of one warm process (``tests/probe.py``), and
asserts the exit code (verify 1 with a FAIL line, the runtimes 2 with one line), that no file outside the
command's own outputs changed (sha256 of every file before and after), and a time and peak-RSS bound measured
by ``os.wait4``. Property-based cases (hypothesis) generate weights archives, manifests and JSON files.
One small bundle per module, from the session's trained run.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import shutil
import struct
import time
import zipfile
import zlib
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gx1 import bundle, verify
from gx1.bundle import checks, limits
from gx1.common import InputError, run_cli, sha256_bytes
from probe import Probe

MAX_SECONDS, MAX_RSS_MB = 10.0, 1024.0
BOMB_BYTES = 3 << 30  # what the hostile record claims to inflate to


# ----------------------------------------------------------------------------- building hostile bundles


@pytest.fixture(scope="module")
def base_bundle(trained_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bounds") / "bundle"
    with pytest.raises(SystemExit) as exit_info:
        run_cli(bundle.main, ["--train_dir", str(trained_run[0]), "--out", str(out)])
    assert exit_info.value.code == 0
    return out


@pytest.fixture(scope="module")
def probe():
    with Probe() as server:
        yield server


def forge(directory: Path, name: str, blob: bytes) -> None:
    """Replace a bundle file and write the manifest a forger would (sha256 of what is there now)."""
    (directory / name).write_bytes(blob)
    files = {n: (directory / n).read_bytes() for n in bundle.BUNDLE_FILES if (directory / n).exists()}
    (directory / bundle.MANIFEST).write_bytes(bundle.manifest_bytes(files))


def zip_bytes(records: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A zip of (name, payload as stored, method, uncompressed size, crc32) records, as miniz lays one out."""
    body, directory = bytearray(), bytearray()
    for name, payload, method, size, crc in records:
        raw = name.encode()
        directory += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0, crc, len(payload), size,
                                 len(raw), 0, 0, 0, 0, 0, len(body)) + raw
        body += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0, crc, len(payload), size, len(raw), 0)
        body += raw + payload
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(records), len(records), len(directory), len(body), 0)
    return bytes(body + directory + end)


def archive_records(blob: bytes) -> list[tuple[str, bytes, int, int, int]]:
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        return [(i.filename, zf.read(i), zipfile.ZIP_STORED, i.file_size, i.CRC) for i in zf.infolist()]


def deflate_bomb(size: int) -> bytes:
    """A raw deflate stream of ``size`` zero bytes (a multiple of 1 MiB) in about size/1000 bytes, built in ms:
    after the first MiB every sync-flushed MiB compresses to the same bytes."""
    mib = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(mib) + compressor.flush(zlib.Z_SYNC_FLUSH)
    repeat = compressor.compress(mib) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return first + repeat * (size // len(mib) - 1) + compressor.flush()


def with_bomb(directory: Path, referenced: bool) -> None:
    records = archive_records((directory / bundle.WEIGHTS).read_bytes())
    bomb = deflate_bomb(BOMB_BYTES)
    if referenced:  # the first tensor's record: torch would inflate it to read the tensor
        records = [(n, bomb, zipfile.ZIP_DEFLATED, BOMB_BYTES, 0) if n.endswith("/data/0") else r
                   for r in records for n in [r[0]]]
    else:  # a record no tensor names: torch.load never reads it, gx1.bundle used to copy it
        records.insert(-2, ("archive/data/9999", bomb, zipfile.ZIP_DEFLATED, BOMB_BYTES, 0))
    forge(directory, bundle.WEIGHTS, zip_bytes(records))


def with_extra_stored_record(directory: Path) -> None:
    records = archive_records((directory / bundle.WEIGHTS).read_bytes())
    records.insert(-2, ("archive/data/64", bytes(1024), zipfile.ZIP_STORED, 1024, zlib.crc32(bytes(1024))))
    forge(directory, bundle.WEIGHTS, zip_bytes(records))


def with_unknown_record(directory: Path) -> None:
    records = archive_records((directory / bundle.WEIGHTS).read_bytes())
    records.insert(-2, ("archive/payload.bin", b"x", zipfile.ZIP_STORED, 1, zlib.crc32(b"x")))
    forge(directory, bundle.WEIGHTS, zip_bytes(records))


def with_tensor(layout: str):
    def tamper(directory: Path) -> None:
        state = torch.load(directory / bundle.WEIGHTS, weights_only=True)
        name = next(k for k, v in state.items() if v.dim() == 2)
        state[name] = {"coo": lambda t: t.to_sparse(), "csr": lambda t: t.to_sparse_csr(),
                       "meta": lambda t: t.to("meta")}[layout](state[name])
        buffer = io.BytesIO()
        torch.save(state, buffer)
        forge(directory, bundle.WEIGHTS, buffer.getvalue())
    return tamper


def with_extra_files(count: int):
    def tamper(directory: Path) -> None:
        for i in range(count):
            (directory / f"extra{i:05d}.txt").touch()
    return tamper


def with_deep_environment(directory: Path) -> None:
    text = (directory / bundle.METADATA).read_text()
    deep = "[" * 900 + "]" * 900
    forge(directory, bundle.METADATA, text.replace('"environment": {', f'"environment": {{"deep": {deep}, ', 1).encode())


def with_long_number(directory: Path) -> None:
    text = (directory / bundle.GOLDEN).read_text()
    forge(directory, bundle.GOLDEN, text.replace('"rows": [', '"rows": [' + "7" * 5000 + ", ", 1).encode())


def with_many_golden_samples(directory: Path) -> None:
    golden = json.loads((directory / bundle.GOLDEN).read_text())
    for key in ("seq", "snap", "ctx_cat", "ctx_cont", "outputs", "rows", "times"):
        golden[key] = (golden[key] * 9)[:65]
    forge(directory, bundle.GOLDEN, json.dumps(golden).encode())


def with_costly_model(directory: Path) -> None:
    """A consistent 5 MB bundle of a model that costs 11 GFLOP per sample (seq_len 4096, 64 heads): weights and
    golden sample of its shapes. Predicting a golden block of 64 samples would take minutes."""
    from gx1.models.entry_v10.model import EntryV10Config, EntryV10Model
    metadata = json.loads((directory / bundle.METADATA).read_text())
    metadata["model_config"].update(seq_len=4096, n_layers=3, d_model=64, n_heads=64, ff_mult=16)
    golden = json.loads((directory / bundle.GOLDEN).read_text())
    golden["seq"] = [[[0] * len(golden["seq"][0][0])] * 4096] * len(golden["seq"])
    forge(directory, bundle.WEIGHTS, bundle.state_dict_bytes(EntryV10Model(EntryV10Config(**metadata["model_config"]))))
    forge(directory, bundle.GOLDEN, json.dumps(golden).encode())
    forge(directory, bundle.METADATA, json.dumps(metadata).encode())


def with_deep_manifest(directory: Path) -> None:
    manifest = json.loads((directory / bundle.MANIFEST).read_text())
    (directory / bundle.MANIFEST).write_text(json.dumps(manifest)[:-1] + ', "x": ' + "[" * 900 + "]" * 900 + "}")


# (id, tamper, the check that fails first, text in its line; None = the manifest is unreadable: exit 2 everywhere)
CASES = [
    ("bomb_referenced", lambda d: with_bomb(d, True), "weights", "compressed or encrypted"),
    ("bomb_unreferenced", lambda d: with_bomb(d, False), "weights", "compressed or encrypted"),
    ("extra_stored_record", with_extra_stored_record, "weights", "65 tensor records"),
    ("unknown_record", with_unknown_record, "weights", "is not one torch's format has"),
    ("sparse_coo", with_tensor("coo"), "weights", "a sparse tensor"),
    ("sparse_csr", with_tensor("csr"), "weights", "a sparse tensor"),
    ("meta_tensor", with_tensor("meta"), "weights", "a meta tensor"),
    ("files_20000", with_extra_files(20_000), "manifest", "more than 1000 files"),
    ("environment_900_deep", with_deep_environment, "manifest", "nests 902 levels deep"),
    ("golden_5000_digits", with_long_number, "manifest", "not valid JSON"),
    ("train_config_not_an_object", lambda d: forge(d, bundle.TRAIN_CONFIG, b"[]"), "manifest", "is not a JSON object"),
    ("golden_65_samples", with_many_golden_samples, "golden_sample", "65 samples, more than the 64"),
    ("inference_cost", with_costly_model, "model_config", "FLOPs"),
    ("manifest_900_deep", with_deep_manifest, None, "nests 901 levels deep"),
]


def tree_hashes(*roots: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for root in roots
            for p in ([root] if root.is_file() else sorted(root.rglob("*"))) if p.is_file() and not p.is_symlink()}


def assert_bounded(result, case: str) -> None:
    assert result.wall_s < MAX_SECONDS, f"{case}: {result.wall_s:.1f} s"
    assert result.peak_rss_mb < MAX_RSS_MB, f"{case}: peak RSS {result.peak_rss_mb:.0f} MB"
    assert "Traceback" not in result.err, result.err


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


# ----------------------------------------------------------------------------- the measured cases


@pytest.mark.slow  # about 10 s in all: 42 command lines, a 20,000-file folder
@pytest.mark.parametrize("case, tamper, check, message", CASES, ids=[c[0] for c in CASES])
def test_hostile_bundle_one_verdict_bounded(base_bundle, small_pipeline, probe, tmp_path, case, tamper, check, message):
    """verify: exit 1 with the FAIL line (2 for an unreadable manifest); replay and gx1.bundle: exit 2, one line naming
    the same check; nothing but their own outputs written; each under 10 s and 1 GB."""
    copy = tmp_path / "bundle"
    shutil.copytree(base_bundle, copy)
    tamper(copy)
    before = tree_hashes(tmp_path, small_pipeline["data"])
    runs = {
        "verify": probe.run("gx1.verify", ["--bundle_dir", str(copy), "--feature_meta_path",
                                           str(copy / "entry_v9_feature_meta.json")]),
        "replay": probe.run("gx1.replay", ["--bundle_dir", str(copy), "--data", str(small_pipeline["data"]),
                                           "--out_dir", str(tmp_path / "replay")]),
        "bundle": probe.run("gx1.bundle", ["--train_dir", str(copy), "--out", str(tmp_path / "rebundled")]),
    }
    for command, result in runs.items():
        assert_bounded(result, f"{case} {command}")
    verified = runs["verify"]
    if check is None:
        assert verified.code == 2 and message in one_line(verified.err)
    else:
        assert verified.code == 1, verified.out + verified.err
        first_fail = next(line for line in verified.out.splitlines() if line.startswith("FAIL"))
        assert first_fail.startswith(f"FAIL {check}: ") and message in first_fail, verified.out
    for command in ("replay", "bundle"):
        line = one_line(runs[command].err)
        assert runs[command].code == 2 and line.startswith("error: ") and message in line, line
        assert check is None or f"{check} check failed" in line, line
    assert tree_hashes(tmp_path, small_pipeline["data"]) == before  # nothing changed, nothing added
    assert not (tmp_path / "replay").exists() and not (tmp_path / "rebundled").exists()
    print(f"{case}: " + ", ".join(f"{c} {r.wall_s:.2f} s {r.peak_rss_mb:.0f} MB" for c, r in runs.items()))


def test_normal_bundle_passes_everywhere_with_the_same_bytes(base_bundle, small_pipeline, probe, tmp_path):
    """The bounds refuse nothing gx1 writes: verify passes, gx1.bundle copies the bytes unchanged."""
    result = probe.run("gx1.verify", ["--bundle_dir", str(base_bundle), "--feature_meta_path",
                                      str(base_bundle / "entry_v9_feature_meta.json")])
    assert result.code == 0, result.out + result.err
    assert_bounded(result, "normal verify")
    again = probe.run("gx1.bundle", ["--train_dir", str(base_bundle), "--out", str(tmp_path / "again")])
    assert again.code == 0, again.err
    assert {Path(k).name: v for k, v in tree_hashes(tmp_path / "again").items()} == \
        {Path(k).name: v for k, v in tree_hashes(base_bundle).items()}


# ----------------------------------------------------------------------------- in-process units


@pytest.fixture(scope="module")
def opened(base_bundle) -> bundle.OpenedBundle:
    return bundle.open_bundle(base_bundle)


@pytest.fixture(scope="module")
def expected(opened) -> dict:
    """Name -> (shape, dtype) of the tensors the bundle's model config implies."""
    return bundle.expected_state(bundle.model(opened))


def with_weights(opened: bundle.OpenedBundle, blob: bytes) -> bundle.OpenedBundle:
    """The opened bundle with other weight bytes, listed with their sha256 (as a forger would)."""
    return dataclasses.replace(opened, blobs={**opened.blobs, bundle.WEIGHTS: blob},
                               listed={**opened.listed, bundle.WEIGHTS: sha256_bytes(blob)}, built={})


def test_bomb_is_refused_without_inflating(opened, expected):
    """The directory check alone refuses it: no byte of the 3 GiB is produced (well under a second)."""
    records = archive_records(opened.blobs[bundle.WEIGHTS])
    blob = zip_bytes(records[:-2] + [("archive/data/9999", deflate_bomb(BOMB_BYTES), zipfile.ZIP_DEFLATED, BOMB_BYTES, 0)]
                     + records[-2:])
    started = time.perf_counter()
    with pytest.raises(bundle.BundleError, match="data/9999' is compressed or encrypted"):
        bundle.weights(with_weights(opened, blob), expected)
    assert time.perf_counter() - started < 1.0


def test_rewritten_normal_archive_still_loads(opened, expected):
    """The test's zip writer is faithful: the same records laid out by it pass every bound and load."""
    blob = zip_bytes(archive_records(opened.blobs[bundle.WEIGHTS]))
    assert sorted(bundle.weights(with_weights(opened, blob), expected)) == sorted(expected)


def reference_depth(text: bytes) -> int:
    """Nesting depth by a plain state machine (the slow, obvious way). A backslash makes a following quote or
    backslash a plain character, in a string or not (outside one it is a syntax error, where a parser stops)."""
    depth = peak = 0
    in_string = escaped = False
    for byte in text:
        if escaped:
            escaped = False
            if byte in b'"\\':  # an escaped quote or backslash is a plain character
                continue
        elif byte == 92:
            escaped = True
            continue
        if in_string:
            if byte == 34:
                in_string = False
        elif byte == 34:
            in_string = True
        elif byte in b"[{":
            depth += 1
            peak = max(peak, depth)
        elif byte in b"]}":
            depth -= 1
    return peak


@settings(max_examples=500, deadline=None)
@example(text=b'\\\\"[', chunk=1)  # a backslash run across a chunk border
@given(text=st.lists(st.sampled_from([b"[", b"]", b"{", b"}", b'"', b"\\", b"a", b",", b"\\\\", b'\\"']), max_size=60)
       .map(b"".join), chunk=st.integers(1, 8))
def test_json_depth_matches_a_plain_scanner_across_chunk_borders(text, chunk):
    saved = limits._CHUNK
    limits._CHUNK = chunk
    try:
        assert limits.json_depth(text) == reference_depth(text)
    finally:
        limits._CHUNK = saved


def nesting(value) -> int:
    return 1 + max([nesting(v) for v in (value.values() if isinstance(value, dict) else value)], default=0) \
        if isinstance(value, (list, dict)) else 0


@settings(max_examples=100, deadline=None)
@given(value=st.recursive(st.none() | st.floats() | st.text(alphabet='[]{}"\\a', max_size=6),
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text('[]{}"\\', max_size=3), inner,
                                                                                     max_size=3), max_leaves=12),
       indent=st.none() | st.integers(0, 2))
def test_json_depth_is_the_parsed_depth_of_valid_json(value, indent):
    """On valid JSON (strings full of brackets, quotes and backslashes) the scan counts what the parser nests."""
    text = json.dumps(value, indent=indent).encode()
    assert limits.json_depth(text) == nesting(json.loads(text))


def test_json_depth_is_linear_and_fast():
    blob = b"[" + b'"a\\\\\\"[",' * 1_600_000 + b"1]"  # 16 MB of strings full of brackets and escapes
    started = time.perf_counter()
    assert limits.json_depth(blob) == 1
    assert time.perf_counter() - started < 3.0


def test_depth_verdict_does_not_depend_on_the_callers_stack():
    """The same bytes get the same verdict at any stack depth (the 900-deep environment passed verify and failed
    replay because replay parsed it deeper in the stack)."""
    blob = b"[" * 40 + b"]" * 40

    def nested(levels: int):
        return nested(levels - 1) if levels else limits.parse_json(blob, "x")
    for levels in (0, 500, 900):
        with pytest.raises(limits.BundleError, match="nests 40 levels deep"):
            nested(levels)


def test_folder_walk_stops_at_the_limit(tmp_path):
    for i in range(limits.MAX_FOLDER_ENTRIES + 5):
        (tmp_path / f"f{i}").touch()
    listing = limits.walk_folder(tmp_path)
    assert listing.overflow and len(listing.files) == limits.MAX_FOLDER_ENTRIES
    deep = tmp_path / "d"
    for _ in range(limits.MAX_FOLDER_DEPTH + 2):
        deep = deep / "d"
    deep.mkdir(parents=True)
    assert "nest" in limits.walk_folder(tmp_path / "d").overflow


# ----------------------------------------------------------------------------- property-based: weights archives


def mutate(blob: bytes, edits: list[tuple[float, int]], cut: float | None) -> bytes:
    data = bytearray(blob)
    for where, value in edits:
        data[int(where * (len(data) - 1))] = value
    return bytes(data[: max(0, int(cut * len(data)))]) if cut is not None else bytes(data)


@st.composite
def weight_archives(draw, blob: bytes) -> bytes:
    """Hostile weights: byte edits (weighted towards the directory and headers at the end), truncation, or
    records rearranged: dropped, duplicated, renamed, compressed, resized, added."""
    kind = draw(st.sampled_from(["edit", "tail_edit", "records"]))
    if kind == "edit":
        return mutate(blob, draw(st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=4)),
                      draw(st.none() | st.floats(0, 1)))
    if kind == "tail_edit":
        tail = len(blob) - 6000
        data = bytearray(blob)
        for offset, value in draw(st.lists(st.tuples(st.integers(tail, len(blob) - 1), st.integers(0, 255)), min_size=1,
                                           max_size=3)):
            data[offset] = value
        return bytes(data)
    records = archive_records(blob)
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["drop", "dup", "rename", "deflate", "resize", "add"]))
        i = draw(st.integers(0, len(records) - 1))
        name, payload, method, size, crc = records[i]
        if op == "drop" and len(records) > 1:
            records.pop(i)
        elif op == "dup":
            records.insert(i, records[i])
        elif op == "rename":
            records[i] = (draw(st.sampled_from(["archive/data/" + draw(st.text("0123456789", min_size=1, max_size=3)),
                                                "other/data.pkl", "archive/../x", "archive/data.pkl", "/abs",
                                                "archive/data/0/", "archive/\u00e9"])), payload, method, size, crc)
        elif op == "deflate":
            records[i] = (name, zlib.compress(payload)[2:-4], zipfile.ZIP_DEFLATED, size, crc)
        elif op == "resize":
            records[i] = (name, payload, method, draw(st.integers(0, 2**32 - 1)), crc)
        else:
            extra = draw(st.binary(max_size=64))
            records.insert(i, (f"archive/data/{draw(st.integers(0, 200))}", extra, zipfile.ZIP_STORED, len(extra),
                               zlib.crc32(extra)))
    return zip_bytes(records)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                                                   HealthCheck.data_too_large])
@given(data=st.data())
def test_any_weights_archive_gets_a_bounded_verdict(opened, expected, data):
    """Property: whatever weights bytes a forger lists, loading them ends in a state dict of exactly the config's
    dense float tensors or one BundleError line, within a second, reading no more than the file holds."""
    original = opened.blobs[bundle.WEIGHTS]
    blob = data.draw(weight_archives(original))
    started = time.perf_counter()
    try:
        state = bundle.weights(with_weights(opened, blob), expected)
    except bundle.BundleError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(bundle.WEIGHTS)
    else:
        assert sorted(state) == sorted(expected)
        assert all(t.layout == torch.strided and t.dtype == expected[k][1] for k, t in state.items())
        assert sum(t.numel() * t.element_size() for t in state.values()) <= len(blob)
    assert time.perf_counter() - started < 2.0


# ----------------------------------------------------------------------------- property-based: manifests and JSON files


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**80, 2**80) | st.floats(allow_nan=True) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=10)


@st.composite
def hostile_json(draw) -> bytes:
    """JSON-ish bytes: valid documents, deep nests, huge numbers, broken UTF-8, truncations."""
    kind = draw(st.sampled_from(["value", "deep", "number", "bytes", "truncated"]))
    if kind == "value":
        return json.dumps(draw(json_values)).encode()
    if kind == "deep":
        n = draw(st.integers(1, 3000))
        return draw(st.sampled_from([b"[", b'{"a":'])) * n + b"1" + b"]" * n
    if kind == "number":
        return b'{"files": ' + b"9" * draw(st.integers(1, 20000)) + b"}"
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    text = json.dumps(draw(json_values)).encode()
    return text[: draw(st.integers(0, len(text)))]


@st.composite
def manifests(draw) -> bytes:
    """A manifest whose entries and format a forger chose (names from the bundle's own, traversal, odd types)."""
    if draw(st.booleans()):
        return draw(hostile_json())
    names = st.sampled_from(list(bundle.BUNDLE_FILES) + ["../x", "manifest.json", "a\nPASS b", ""]) | st.text(max_size=8)
    entries = draw(st.dictionaries(names, st.fixed_dictionaries({"sha256": st.text(max_size=64) | st.just("0" * 64)})
                                   | json_values, max_size=10))
    return json.dumps({"format": draw(st.sampled_from(["gx1-bundle/2", "gx1-bundle/9"]) | json_values),
                       "files": entries}).encode()


def verdicts(probe, root: Path, copy: Path, commands=("verify", "bundle")) -> dict:
    """Run the commands on ``copy`` through the probe; assert what every case must: one verdict line (verify: FAIL
    lines), no traceback, under 10 s and 1 GB, no file under ``root`` changed but the commands' own outputs."""
    before = tree_hashes(root)
    argv = {"verify": ("gx1.verify", ["--bundle_dir", str(copy), "--feature_meta_path",
                                      str(copy / "entry_v9_feature_meta.json")]),
            "bundle": ("gx1.bundle", ["--train_dir", str(copy), "--out", str(root / "out")])}
    runs = {name: probe.run(*argv[name]) for name in commands}
    for name, result in runs.items():
        assert_bounded(result, name)
        assert result.code in (0, 1, 2), (name, result.code, result.err)
        if result.code:
            assert one_line(result.err)
    if "verify" in runs and runs["verify"].code == 1:
        assert any(line.startswith("FAIL ") for line in runs["verify"].out.splitlines())
    after = {k: v for k, v in tree_hashes(root).items() if not k.startswith(str(root / "out") + "/")}
    assert after == before
    return {name: result.code for name, result in runs.items()}


@pytest.mark.slow  # about 2 s: 30 manifests, two command lines each
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(manifest=manifests())
def test_any_manifest_gets_a_verdict(base_bundle, probe, tmp_path_factory, manifest):
    """Property: verify answers any manifest with exit 1 and FAIL lines or exit 2 and one line (never 0: no sha256
    is right), gx1.bundle refuses it (exit 2, nothing written), within the bounds."""
    root = tmp_path_factory.mktemp("manifest")
    copy = root / "bundle"
    shutil.copytree(base_bundle, copy)
    (copy / bundle.MANIFEST).write_bytes(manifest)
    codes = verdicts(probe, root, copy)
    assert codes["verify"] in (1, 2) and codes["bundle"] == 2 and not (root / "out").exists()


@pytest.mark.slow  # about 6 s: 8 archives, two command lines each (a passing one verifies three times)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                                                  HealthCheck.data_too_large])
@given(data=st.data())
def test_any_weights_bytes_get_one_verdict_from_every_command(base_bundle, probe, tmp_path_factory, data):
    """Property: hostile weights listed with their sha256 get the same verdict from verify and gx1.bundle (both pass
    or both refuse), each within the bounds, nothing else written."""
    root = tmp_path_factory.mktemp("weights")
    copy = root / "bundle"
    shutil.copytree(base_bundle, copy)
    forge(copy, bundle.WEIGHTS, data.draw(weight_archives((base_bundle / bundle.WEIGHTS).read_bytes())))
    codes = verdicts(probe, root, copy)
    assert (codes["verify"] == 0) == (codes["bundle"] == 0) and codes["verify"] in (0, 1) and codes["bundle"] in (0, 2)


@pytest.mark.slow  # about 6 s: a passing case predicts the golden sample twice
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from([bundle.METADATA, bundle.GOLDEN, bundle.TRAIN_CONFIG, bundle.META_NAME]),
       blob=hostile_json())
def test_any_bundle_json_gets_one_verdict(opened, name, blob):
    """Property: whatever bytes a forger puts in a bundle's JSON file (manifest agreeing), every check ends in
    PASS or FAIL, the runtimes' verdict (``integrity_failure``) is verify's first failing integrity check, and when
    there is none, every JSON file is an object a runtime can use (load_bundle reads all four)."""
    model = {} if name == bundle.METADATA else {"model": bundle.model(opened)}  # built from bytes not forged here
    forged = dataclasses.replace(opened, blobs={**opened.blobs, name: blob},
                                 listed={**opened.listed, name: sha256_bytes(blob)}, built=model)
    started = time.perf_counter()
    results = [checks._run(check_name, check, forged) for check_name, check in checks.INTEGRITY_CHECKS]
    failure = checks.integrity_failure(forged)
    first = next((r for r in results if not r.passed), None)
    assert failure == first
    assert all("\n" not in r.line for r in results)
    if failure is None:
        assert all(isinstance(forged.document(n), dict) for n in bundle.JSON_FILES)
    assert time.perf_counter() - started < MAX_SECONDS


def test_open_bundle_refuses_a_deep_manifest_with_one_line(base_bundle, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(base_bundle, copy)
    with_deep_manifest(copy)
    with pytest.raises(InputError, match="nests 901 levels deep"):
        bundle.open_bundle(copy)
    assert not bundle.is_bundle_folder(copy)
