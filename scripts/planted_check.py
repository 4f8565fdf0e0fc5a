#!/usr/bin/env python3
"""The learning check with a known answer (gx1/planted.py): can the training learn a signal when there is one?

Run from the repository root (about 90 s on 2 cores: one training; a temporary folder unless --work_dir):
    python3 scripts/planted_check.py [--json reports/planted.json]
    python3 scripts/planted_check.py --corrupt shift_label          # negative controls: must fall short
    python3 scripts/planted_check.py --corrupt shuffle_sequence
    python3 scripts/planted_check.py --signal xor --epochs 6        # the harder variant (an XOR of two lagged markers)

Prints the achievable direction AUC (known from the generating process), the two one-bar linear baselines, the
model's AUC on the held-out rows, the share of the achievable lift it reached, and the seconds taken.
Exit 0 when the check passes (or, with --corrupt, when the control falls short as it must), 1 otherwise,
2 for bad usage.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import gx1  # noqa: E402,F401  (first: pins numpy's and torch's code paths before they load)
from gx1.common import ArgumentParser, number_in, run_cli, write_json  # noqa: E402
from gx1.planted import CORRUPTIONS, SIGNALS, Profile, Training, learning_check, summary_lines  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python3 scripts/planted_check.py", description=__doc__.split("\n\n")[0])
    profile, training = Profile(), Training()
    parser.add_argument("--signal", choices=SIGNALS, default=profile.signal, help="planted signal (default: %(default)s)")
    parser.add_argument("--edge", type=number_in(float, 0, 3, low_open=True), default=profile.edge,
                        help="drift / sigma; the population achievable AUC is Phi(edge) (default: %(default)s)")
    parser.add_argument("--n_bars", type=number_in(int, 2_000, 70_000), default=profile.n_bars,
                        help="M5 bars generated (default: %(default)s)")
    parser.add_argument("--data_seed", type=number_in(int, 0, 2**32 - 1), default=profile.seed,
                        help="seed of the generating process (default: %(default)s)")
    parser.add_argument("--epochs", type=number_in(int, 1, 1000), default=training.epochs, help="default: %(default)s")
    parser.add_argument("--batch_size", type=number_in(int, 1, 1 << 16), default=training.batch_size,
                        help="default: %(default)s")
    parser.add_argument("--learning_rate", type=number_in(float, 0, 10, low_open=True), default=training.learning_rate,
                        help="default: %(default)s")
    parser.add_argument("--seed", type=number_in(int, 0, 2**63 - 1), default=training.seed, help="training seed "
                        "(default: %(default)s)")
    parser.add_argument("--corrupt", choices=CORRUPTIONS, help="run a negative control instead (must fall short)")
    parser.add_argument("--work_dir", help="keep the bars, datasets, contracts and bundle here (default: a temporary folder)")
    parser.add_argument("--json", help="also write every figure here")
    args = parser.parse_args(argv)
    profile = Profile(signal=args.signal, edge=args.edge, n_bars=args.n_bars, seed=args.data_seed)
    training = Training(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate, seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="gx1-planted-") as scratch:
        figures = learning_check(Path(args.work_dir or scratch), profile, training, args.corrupt)
    for line in summary_lines(figures) + ["  training: " + line for line in figures["training_epochs"]]:
        print(line, flush=True)
    if args.json:
        write_json(args.json, figures)
    return 0 if figures["passed"] != bool(args.corrupt) else 1


if __name__ == "__main__":
    run_cli(main)
