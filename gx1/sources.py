"""The data stage: every instrument's bars, from the ``data.sources`` list of params.yaml, as one folder.

Run (the `data` stage of dvc.yaml; by hand the same):
    python3 -m gx1.sources --params params.yaml --out_dir data/bars/sources

``data.sources`` maps an instrument to where its bars come from: the embedded generator
(``file: synthetic``, with ``year``, ``last_year`` and ``seed``; gx1.synth's instruments) or your own
bars (``file``: one path or a list of paths, e.g. one per year, parquet or CSV as gx1.bars reads them,
with an optional ``point_size`` for MetaTrader 5 spreads)::

    data:
      sources:
        XAUUSD: {file: synthetic, interval_minutes: 5, year: 2025, last_year: 2025, seed: 20250101}
        EURUSD: {file: [eurusd_m5_2024.csv, eurusd_m5_2025.csv], interval_minutes: 5}

Each source is validated (gx1.bars) and its bar interval checked against ``interval_minutes``; one
instrument's files are joined in time order. The folder gets ``<INSTRUMENT>.parquet`` per source and
``sources.json`` (bars, first and last bar, interval of each), and is swapped in whole: a failure leaves
the previous folder as it was. The folder is replaced only when it is gx1.sources' own earlier output (its
``.gx1-output`` marker lists every file in it, ``gx1.outputs``), and no source file may lie inside it.
Instrument names are text (``1`` and ``'1'`` would be one instrument); params.yaml is read bounded
(``gx1.common.read_params_yaml``: no alias, no key twice). Exit 2 with one line for a bad source.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from gx1.bars import infer_interval_seconds, interval_name, write_bars_parquet
from gx1.common import ArgumentParser, InputError, printable, read_params_yaml, run_cli, write_json
from gx1.dataset import check_instrument, load_instrument_bars
from gx1.outputs import check_inputs_outside, swap_in_folder
from gx1.synth import INSTRUMENTS, generate_bars

SYNTHETIC = "synthetic"
SYNTHETIC_KEYS = {"file", "interval_minutes", "year", "last_year", "seed"}
FILE_KEYS = {"file", "interval_minutes", "point_size"}
YEARS = (1971, 2261)  # gx1.synth's --year range
COMMAND = "gx1.sources"  # the owner named in the out_dir's marker (gx1.outputs)


def read_sources(params_path: str) -> dict[str, dict]:
    """``data.sources`` of a params.yaml, each entry's keys checked."""
    section = read_params_yaml(params_path, "data")
    sources = section.get("sources") if isinstance(section, dict) else None
    if not isinstance(sources, dict) or not sources:
        raise InputError(f"{params_path}: data.sources must map each instrument to its bars, e.g. "
                         "{XAUUSD: {file: synthetic, interval_minutes: 5, year: 2025, last_year: 2025, seed: 20250101}}")
    for name, entry in sources.items():
        where = f"{params_path}: data.sources.{printable(str(name))[:40]}"
        if not isinstance(name, str):  # YAML reads 1 as a number: 1 and '1' would become one instrument
            raise InputError(f"{where}: an instrument name must be text, not {type(name).__name__} {name!r}: quote it")
        check_instrument(name, where)
        if not isinstance(entry, dict) or "file" not in entry or "interval_minutes" not in entry:
            raise InputError(f"{where} needs at least file (a path, a list of paths, or synthetic) and interval_minutes")
        allowed = SYNTHETIC_KEYS if entry["file"] == SYNTHETIC else FILE_KEYS
        unknown = sorted(set(entry) - allowed)
        if unknown or (entry["file"] == SYNTHETIC and set(entry) != SYNTHETIC_KEYS):
            raise InputError(f"{where}: keys {sorted(entry)}; a {'synthetic' if entry['file'] == SYNTHETIC else 'file'} "
                             f"source takes {sorted(allowed)}" + (f" (unknown: {unknown})" if unknown else ""))
        if not isinstance(entry["interval_minutes"], int) or isinstance(entry["interval_minutes"], bool) \
                or not 0 < entry["interval_minutes"] <= 1440:
            raise InputError(f"{where}: interval_minutes {entry['interval_minutes']!r} must be a whole number of minutes "
                             "in 1..1440")
    return dict(sources)


def source_bars(instrument: str, entry: dict, where: str) -> dict[str, np.ndarray]:
    """The bars one source gives, their interval checked against the entry's."""
    if entry["file"] == SYNTHETIC:
        if instrument not in INSTRUMENTS:
            raise InputError(f"{where}: no synthetic profile for {instrument} (there are {', '.join(INSTRUMENTS)}); "
                             "give a file instead")
        for key, (low, high) in (("year", YEARS), ("last_year", YEARS), ("seed", (0, 2**63 - 1))):
            if not isinstance(entry[key], int) or isinstance(entry[key], bool) or not low <= entry[key] <= high:
                raise InputError(f"{where}: {key} {entry[key]!r} must be a whole number in {low}..{high}")
        bars = generate_bars(instrument, entry["year"], entry["last_year"], entry["seed"], entry["interval_minutes"])
    else:
        files = entry["file"] if isinstance(entry["file"], list) else [entry["file"]]
        if not files or not all(isinstance(f, str) and f for f in files):
            raise InputError(f"{where}: file must be a path, a list of paths, or synthetic")
        point_size = entry.get("point_size", 0.0)
        if not isinstance(point_size, (int, float)) or isinstance(point_size, bool) or not 0 <= point_size < 1e6:
            raise InputError(f"{where}: point_size {point_size!r} must be a number >= 0 (0 = inferred)")
        bars = load_instrument_bars(files, float(point_size))
    found = infer_interval_seconds(bars["time"])
    if found != entry["interval_minutes"] * 60:
        raise InputError(f"{where}: the bars are {interval_name(found)} ({found // 60} minutes) but interval_minutes is "
                         f"{entry['interval_minutes']}: correct interval_minutes, or give bars of that interval")
    return bars


def build_sources(params_path: str, out_dir: str) -> dict:
    """Write every source's bars into ``out_dir`` (swapped in whole, only over gx1.sources' own earlier output);
    return the manifest. No source file may lie inside ``out_dir``: the folder is replaced whole."""
    sources = read_sources(params_path)
    check_inputs_outside(out_dir, [("--params", params_path)] + [
        (f"data.sources.{name} file", path) for name, entry in sources.items() if entry["file"] != SYNTHETIC
        for path in (entry["file"] if isinstance(entry["file"], list) else [entry["file"]]) if isinstance(path, str)])

    def fill(staging: Path) -> dict:
        manifest = {}
        for instrument, entry in sources.items():
            bars = source_bars(instrument, entry, f"{params_path}: data.sources.{instrument}")
            write_bars_parquet(bars, staging / f"{instrument}.parquet")
            manifest[instrument] = {
                "file": f"{instrument}.parquet", "source": entry["file"], "bars": int(len(bars["time"])),
                "interval": interval_name(entry["interval_minutes"] * 60),  # source_bars checked the bars' own
                "first_time": f"{np.datetime_as_string(bars['time'][0], unit='s')}Z",
                "last_time": f"{np.datetime_as_string(bars['time'][-1], unit='s')}Z",
            }
            print(f"{instrument}: {manifest[instrument]['bars']} {manifest[instrument]['interval']} bars, "
                  f"{manifest[instrument]['first_time']} .. {manifest[instrument]['last_time']}", file=sys.stderr, flush=True)
        write_json(staging / "sources.json", manifest)
        return manifest
    return swap_in_folder(Path(out_dir), fill, COMMAND)


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python3 -m gx1.sources", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="params file with data.sources (default params.yaml)")
    parser.add_argument("--out_dir", required=True, help="folder to write (replaced whole)")
    args = parser.parse_args(argv)
    manifest = build_sources(args.params, args.out_dir)
    print(f"sources: {len(manifest)} instruments ({', '.join(manifest)}), "
          f"{sum(m['bars'] for m in manifest.values())} bars -> {args.out_dir}", flush=True)
    return 0


if __name__ == "__main__":
    run_cli(main)
