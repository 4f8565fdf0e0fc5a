"""gx1.headline: the train and replay headlines joined into the one metrics file, model quality first."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gx1.common import InputError
from gx1.headline import join_headlines

REPO_ROOT = Path(__file__).resolve().parents[1]
TRAIN = {"train_loss": 1.42, "heads_learned": 1, "epochs": 2, "train_samples": 66938, "val_direction_auc": 0.52}
REPLAY = {"trades": 8, "direction_auc": 0.53, "goes_against": 0.625, "direction_auc_baseline": 0.55,
          "early_move_auc": 0.54, "quality_corr": 0.07, "mfe_mae": 0.93}


def test_quality_group_first_and_every_figure_kept_under_its_own_name():
    joined = join_headlines({"train": TRAIN, "replay": REPLAY})
    assert list(joined) == ["quality", "replay", "train"]
    assert joined["quality"] == {k: REPLAY.get(k, TRAIN.get(k)) for k in
                                 ("direction_auc", "direction_auc_baseline", "early_move_auc", "quality_corr",
                                  "val_direction_auc")}
    assert joined["replay"] == {"goes_against": 0.625, "mfe_mae": 0.93, "trades": 8}
    assert joined["train"] == {"epochs": 2, "heads_learned": 1, "train_loss": 1.42, "train_samples": 66938}
    flat = {f"{group}.{name}": value for group, figures in joined.items() for name, value in figures.items()}
    assert len(flat) == len(TRAIN) + len(REPLAY)
    assert sorted(flat)[:5] == [f"quality.{name}" for name in joined["quality"]]  # what `dvc metrics diff` sorts


def test_a_figure_claimed_twice_is_refused():
    with pytest.raises(InputError, match="direction_auc"):
        join_headlines({"train": {"direction_auc": 0.5}, "replay": REPLAY})


def test_cli_writes_the_file_and_refuses_bad_input(tmp_path):
    (tmp_path / "train.json").write_text(json.dumps(TRAIN))
    (tmp_path / "replay.json").write_text(json.dumps(REPLAY))
    (tmp_path / "bad.json").write_text("[1, 2]")

    def headline(train: str, replay: str, out: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "gx1.headline", "--train", train, "--replay", replay,
                               "--out", out], cwd=REPO_ROOT, capture_output=True, text=True)

    good = headline(str(tmp_path / "train.json"), str(tmp_path / "replay.json"), str(tmp_path / "summary.json"))
    assert good.returncode == 0, good.stderr
    assert json.loads((tmp_path / "summary.json").read_text()) == join_headlines({"train": TRAIN, "replay": REPLAY})
    for train, replay in (("missing.json", "replay.json"), ("train.json", "bad.json")):
        bad = headline(str(tmp_path / train), str(tmp_path / replay), str(tmp_path / "other.json"))
        assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
        assert not (tmp_path / "other.json").exists()
