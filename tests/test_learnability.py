"""gx1.learnability: its references checked against sums done by hand on the same rows."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from gx1 import learnability
from gx1.dataset import read_dataset, split_rows


def test_references_match_hand_computed_figures(small_pipeline, tmp_path):
    from sklearn.metrics import roc_auc_score
    out = tmp_path / "learnability.json"
    assert learnability.main(["--data", str(small_pipeline["data"]), "--contract_dir", str(small_pipeline["meta"].parent),
                              "--val_days", "1", "--holdout_days", "1", "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    data = read_dataset(str(small_pipeline["data"]))
    train, val, _ = split_rows(data, 0, 1, 1, 6)
    y = np.asarray(data["y_dir"], dtype=np.float64)
    p = y[train].mean()  # the base rate: log loss of a constant, by hand
    by_hand = -np.mean(y[val] * math.log(p) + (1 - y[val]) * math.log(1 - p))
    assert figures["validation"]["base rate"]["log_loss"] == pytest.approx(by_hand, abs=1e-6)
    # a one-feature logistic regression is monotone in the feature: its AUC is the raw feature's (or its mirror)
    raw = roc_auc_score(y[val], np.asarray(data["ema_slope_12_atr"], dtype=np.float64)[val])
    assert figures["validation"]["one feature"]["auc"] in (pytest.approx(raw, abs=1e-6), pytest.approx(1 - raw, abs=1e-6))
    assert set(figures) == {"validation", "replay week"} and 0 < figures["replay week"]["all 31 features"]["log_loss"] < 1
