"""The knobs stage: params.yaml's top-level training knobs, checked, as the files the train and fold stages read.

    python3 -m gx1.pipeline_knobs --params params.yaml --out_dir reports/knobs

Writes ``train.json`` (every TrainConfig knob params.yaml sets, the trainer's ``--knobs``) and ``fold.json``
(those a walk-forward fold takes from the pipeline: all but FOLD_SETS and TRAIN_STAGE_ONLY;
``gx1.walkforward --knobs``). Each value is checked as its flag checks it and
written with its knob's type, keys sorted, so the same knobs give the same bytes.

This stage is the one that tracks the whole of params.yaml. The train and fold stages depend on its files
instead of on named params, so a new TrainConfig knob set in params.yaml reaches them without a change to
dvc.yaml, and a change elsewhere in params.yaml (``replay.*``, ``walkforward.folds``) rewrites both files
byte-identical and retrains nothing. A top-level key that is neither a TrainConfig knob nor one of
PIPELINE_KEYS is refused, as is a value its flag would refuse: exit 2 with one line, nothing written.
"""
from __future__ import annotations

from pathlib import Path

from gx1.common import ArgumentParser, InputError, printable, read_params_file, run_cli, write_json
from gx1.training.config import knob_defaults, knob_value

FOLD_SETS = ("train_end", "holdout_days", "val_days", "log_every")  # knobs a fold sets itself (gx1.walkforward.run_fold)
# the train stage's knobs a fold does not take from the pipeline: knob -> why
TRAIN_STAGE_ONLY = {"epochs": "a fold trains walkforward.epochs epochs",
                    "limit_samples": "a fold trains on every row before its start",
                    "nproc_per_node": "a fold trains in one process"}
# params.yaml's top-level keys that are no TrainConfig knob: key -> where its value goes (dvc.yaml)
PIPELINE_KEYS = {
    "reproducibility": "GX1_REPRODUCIBILITY in every stage's environment (gx1.cpu)",
    "context_features": "ENTRY_CONTEXT_FEATURES_ENABLED of the train, verify and fold stages",
    "data": "the data stage (gx1.sources)",
    "dataset": "the dataset stage (gx1.features.LabelConfig)",
    "replay": "the replay and fold stages (gx1.replay_config.ReplayConfig)",
    "walkforward": "the fold_data, fold and walkforward stages",
}


def split_knobs(params: dict, where: str) -> dict[str, dict]:
    """{"train": the TrainConfig knobs ``params`` sets, "fold": those a fold takes}, in field order. InputError
    for an unknown top-level key or a value its flag refuses."""
    defaults = knob_defaults()
    unknown = [key for key in params if key not in defaults and key not in PIPELINE_KEYS]
    if unknown:
        raise InputError(f"{where}: top-level key {printable(repr(unknown[0]))[:60]} is no training knob "
                         f"({', '.join(defaults)}) and none of {', '.join(PIPELINE_KEYS)}: fix its name")
    train = {name: knob_value(name, params[name], where) for name in defaults if name in params}
    fold = {name: value for name, value in train.items() if name not in FOLD_SETS and name not in TRAIN_STAGE_ONLY}
    return {"train": train, "fold": fold}


def write_knob_files(params_path: str, out_dir: str) -> dict[str, dict]:
    """Check params.yaml's knobs and write ``<out_dir>/train.json`` and ``fold.json``; returns what was written."""
    knobs = split_knobs(read_params_file(params_path), params_path)
    for name, values in knobs.items():
        write_json(Path(out_dir) / f"{name}.json", values)
    return knobs


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python3 -m gx1.pipeline_knobs", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="params file (default params.yaml)")
    parser.add_argument("--out_dir", default="reports/knobs", help="where train.json and fold.json go "
                                                                   "(default reports/knobs)")
    args = parser.parse_args(argv)
    knobs = write_knob_files(args.params, args.out_dir)
    for name, values in knobs.items():
        print(f"{args.out_dir}/{name}.json: " + " ".join(f"{key}={value}" for key, value in values.items()))
    return 0


if __name__ == "__main__":
    run_cli(main)
