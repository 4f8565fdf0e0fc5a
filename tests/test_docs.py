"""The README and docs stand alone and stay true: no reference to a file outside the repository, every source
path they name exists (a renamed module fails here until the docs follow), and every figure the code can
produce (contract hashes, the default data's bar and row counts, feature and parameter counts, verify's check
count, stage names, the params.yaml keys that are no training knob, console scripts, locked packages, plots, the hostile case counts, the test counts)
is computed here and must appear in the docs as computed. The commands in the docs are run by
tests/test_doc_commands.py."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUTSIDE = re.compile(r"\.\./shared|DESIGN\.md|STYLE\.md|step3c_fullyear")
SOURCE_PATH = re.compile(r"`((?:gx1|scripts|tests|docs)/[\w./-]+\.(?:py|md|sh|json))`")


def tracked_text_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    return [REPO / n for n in names if n.endswith((".py", ".md", ".yaml", ".toml", ".txt", ".sh")) and (REPO / n).is_file()]


def test_nothing_points_outside_the_repository():
    offenders = [f"{path.relative_to(REPO)}:{number}" for path in tracked_text_files()
                 if path.name != "test_docs.py"
                 for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1) if OUTSIDE.search(line)]
    assert offenders == []


def test_every_source_path_the_docs_name_exists():
    docs = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    missing = sorted({f"{doc.name}: {name}" for doc in docs for name in SOURCE_PATH.findall(doc.read_text())
                      if "<" not in name and not (REPO / name).exists()})
    assert missing == []


HOSTILE_FILES = ("tests/test_hostile_inputs.py", "tests/test_bundle_bounds.py", "tests/test_checkpoints.py")


def test_the_hostile_case_counts_in_the_docs_are_the_suites():
    import sys
    collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-n", "0", "-p", "no:cacheprovider",
                                *HOSTILE_FILES], cwd=REPO, capture_output=True, text=True, timeout=120).stdout
    cases = int(re.search(r"(\d+) tests? collected", collected).group(1))
    examples = sum(int(n) for f in HOSTILE_FILES for n in re.findall(r"max_examples=(\d+)", (REPO / f).read_text()))
    text = (REPO / "docs" / "errors.md").read_text()
    assert f"hold {cases} test cases" in text and f"up to {examples} generated examples" in text


def test_the_test_counts_in_the_docs_are_the_suites():
    import sys
    collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-n", "0", "-p", "no:cacheprovider",
                                "-m", "not slow"], cwd=REPO, capture_output=True, text=True, timeout=120).stdout
    fast, total = map(int, re.search(r"(\d+)/(\d+) tests collected", collected).groups())
    text = re.sub(r"\s+", " ", (REPO / "docs" / "performance.md").read_text())
    assert f"the suite's {total} tests" in text and f"(`-m \"not slow\"`, {fast} tests)" in text, (total, fast)


# ---------------------------------------------------------------- figures the code produces
# Each figure below is computed from the code, params.yaml, dvc.yaml or pyproject.toml and must appear in the
# docs in the phrase named: a figure changed in code fails here until the doc is updated.

DOCS = ("README.md", *sorted(f"docs/{p.name}" for p in (REPO / "docs").glob("*.md")))


def doc_text(name: str) -> str:
    """A doc with its line breaks and runs of spaces folded to one space (phrases may wrap)."""
    return re.sub(r"\s+", " ", (REPO / name).read_text())


def missing_phrases(expected: dict[str, list[str]]) -> list[str]:
    return [f"{name}: {phrase!r}" for name, phrases in expected.items() for phrase in phrases if phrase not in doc_text(name)]


def params() -> dict:
    import yaml
    return yaml.safe_load((REPO / "params.yaml").read_text())


def default_contract(interval_seconds: int = 300, instruments: tuple[str, ...] = ("XAUUSD",)) -> dict:
    from gx1.contract import build_contract
    return build_contract(params()["dataset"], interval_seconds, list(instruments))


def test_the_contract_hashes_in_the_docs_are_the_codes():
    """Every 16-hex-digit hash in the docs is one the code computes (the default, and docs/data.md's EURUSD H1
    example), or the plan's literal one that docs/pipeline.md explains; the default hash is shown where promised."""
    from gx1.contract import contract_hash
    default = contract_hash({"contract": default_contract()})
    eurusd_h1 = contract_hash({"contract": default_contract(3600, ("EURUSD",))})
    plans = "93ab1d31534f2dc7"
    found = {(name, h) for name in DOCS for h in re.findall(r"(?<![0-9a-f])[0-9a-f]{16}(?![0-9a-f])", doc_text(name))}
    assert sorted(f"{name}: {h}" for name, h in found if h not in {default, eurusd_h1, plans}) == []
    assert missing_phrases({
        "README.md": [f"(feature contract hash {default})"],
        "docs/pipeline.md": [f"PASS feature_contract_hash: {default}", f"ours is `{default}`", f"--expected_hash {default}"],
        "docs/data.md": [f"the default is `{default}`", f"(hash `{eurusd_h1}`)"],
    }) == []


def default_data_figures() -> dict[str, int]:
    """Bars, replay week and training rows of the default data (the embedded synthetic year, params.yaml)."""
    from gx1.dataset import build_dataset, split_rows
    from gx1.features import LabelConfig
    from gx1.replay import ReplayConfig, window_rows
    from gx1.synth import generate_bars
    p = params()
    (instrument, source), = p["data"]["sources"].items()
    bars = generate_bars(instrument, source["year"], source["last_year"], source["seed"], source["interval_minutes"])
    d = p["dataset"]
    cfg = LabelConfig(horizon_bars=d["horizon_bars"], early_bars=d["early_bars"], early_move_atr=d["early_move_atr"],
                      quality_clip=d["quality_clip"], seq_len=p["seq_len"], max_gap_minutes=d["max_gap_minutes"],
                      weekend_gaps=d["weekend_gaps"])
    data = build_dataset(bars, cfg)
    lo, hi, week = window_rows(data, ReplayConfig(bundle_dir="", days=p["holdout_days"]))
    train, _, _ = split_rows(data, p["limit_samples"], p["holdout_days"], p["val_days"], d["horizon_bars"])
    train14, val14, _ = split_rows(data, 0, p["holdout_days"], 14, d["horizon_bars"])
    full_year, _, _ = split_rows(data, 0, 0, 0, d["horizon_bars"])  # the plan's command: holdout_days 0
    return {"bars": len(bars["time"]), "week_bars": hi - lo, "week_eligible": len(week), "train": len(train),
            "val14": len(val14), "plan_5_epochs": 5 * len(full_year)}


def test_the_default_data_figures_in_the_docs_are_the_datas():
    f = default_data_figures()
    assert missing_phrases({
        "README.md": [f"M5 year ({f['bars']:,} bars)", f"{f['week_bars']} bars, {f['week_eligible']} eligible",
                      f"The replay week ({f['week_eligible']:,} eligible bars"],
        "docs/performance.md": [f"full default year ({f['bars']:,} bars)"],
        "docs/pipeline.md": [f"{f['week_bars']} bars, {f['week_eligible']} eligible",
                             f"done: {f['plan_5_epochs']} samples"],
        "docs/replay.md": [f"the replay week ({f['week_eligible']:,} eligible bars", f"full-year run ({f['train']:,} samples",
                           f"replay week ({f['week_eligible']:,} bars)", f"before the replay week ({f['val14']:,} bars)"],
        "docs/walkforward.md": [f"one replayed week ({f['week_eligible']:,} bars)"],
    }) == []


def test_the_feature_and_model_figures_in_the_docs_are_the_models():
    from gx1.features import CTX_CAT_FEATURES, CTX_CONT_FEATURES, SEQ_FEATURES, SNAP_FEATURES
    from gx1.models.entry_v10.model import EntryV10Model
    from gx1.training.run import model_config_for
    n_seq, n_snap, n_cat, n_cont = len(SEQ_FEATURES), len(SNAP_FEATURES), len(CTX_CAT_FEATURES), len(CTX_CONT_FEATURES)
    model = EntryV10Model(model_config_for(default_contract(), params()["seq_len"], True))
    state = model.state_dict()
    parameters = sum(p.numel() for p in model.parameters())
    assert missing_phrases({
        "README.md": [f"({n_seq + n_snap} features, 3 labels)", f"its {n_seq + n_snap} features"],
        "docs/model.md": [f"{n_seq + n_snap} features and {n_cat + n_cont} context features",
                          f"**Sequence features** ({n_seq},", f"**Snapshot features** ({n_snap},",
                          f"About {parameters / 1e6:.2f} M parameters"],
        "docs/pipeline.md": [f"{n_seq} seq + {n_snap} snap features, context {n_cat} cat + {n_cont} cont",
                             f"PASS weights: {len(state)} tensors, {sum(t.numel() for t in state.values())} values"],
        "docs/scaling.md": [f"all-reduce of {parameters / 1e6:.2f} M parameters"],
    }) == []


def test_the_verify_check_count_in_the_docs_is_the_pipelines():
    """The pipeline's verify (the plan's checks, the expected hash, context on) runs len(_checks(...)) checks."""
    from gx1.bundle import checks as verify
    from gx1.bundle import format as bundle_format
    n = len(verify._checks("0" * 16, plan=True, context=True))
    assert missing_phrases({
        "README.md": [f"all {n} checks passed"], "docs/pipeline.md": [f"all {n} checks passed",
                                                                      f"PASS manifest: {len(bundle_format.BUNDLE_FILES)} files"],
        "docs/data.md": [f"all {n} verify checks"], "docs/scaling.md": [f"all {n} verify checks"],
    }) == []


def dvc_yaml() -> dict:
    import yaml
    return yaml.safe_load((REPO / "dvc.yaml").read_text())


def table_first_column(name: str, heading: str) -> list[str]:
    """The first cells of the markdown table under ``heading`` (after its header row)."""
    text = (REPO / name).read_text()
    section = text[text.index(heading):]
    rows = re.findall(r"^\| *([^|]*?) *\|", section[:section.index("\n\n", section.index("\n|"))], flags=re.MULTILINE)
    return rows[2:]


def test_the_stage_tables_name_every_stage_of_dvc_yaml():
    stages = set(dvc_yaml()["stages"])
    for name, heading in (("README.md", "## The stages"), ("docs/pipeline.md", "## The pipeline")):
        cells = table_first_column(name, heading)
        named = {re.sub(r"@.*|\(.*", "", part).strip() for cell in cells for part in cell.split(",")}
        assert named == stages, name
    plain = [s for s, body in dvc_yaml()["stages"].items() if "foreach" not in body]
    assert missing_phrases({"docs/performance.md": [f"all {len(plain)} stages"]}) == []


def test_the_keys_that_are_no_training_knob_are_the_knobs_stages():
    from gx1.pipeline_knobs import PIPELINE_KEYS
    text = doc_text("docs/pipeline.md")
    listed = re.search(r"and the keys that are none\s+\(([^)]*)\)", text)
    assert listed is not None
    assert set(re.findall(r"`(\w+)`", listed.group(1))) == set(PIPELINE_KEYS)


def test_the_plots_count_is_dvc_yamls():
    assert missing_phrases({"docs/experiments.md": [f"The page has exactly {len(dvc_yaml()['plots'])} plots"]}) == []


def test_the_console_script_and_lock_counts_are_the_files():
    import tomllib
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    packages = re.findall(r"^[A-Za-z0-9][\w.-]*==", (REPO / "requirements.lock").read_text(), flags=re.MULTILINE)
    assert missing_phrases({
        "README.md": [f"puts the {len(scripts)} `gx1-*` console scripts"],
        "docs/performance.md": [f"`--help` of the {len(scripts)} console scripts"],
        "docs/environment.md": [f"pins every package of the environment ({len(packages)},"],
    }) == []


def test_the_worker_cap_in_the_docs_is_conftests():
    from conftest import MAX_WORKERS
    assert missing_phrases({"docs/design.md": [f"at most {MAX_WORKERS}"], "docs/testing.md": [f"at most {MAX_WORKERS}"]}) == []


def test_requires_python_is_what_the_lock_was_compiled_for():
    import tomllib
    major, minor = re.search(r"autogenerated by pip-compile with Python (\d+)\.(\d+)",
                             (REPO / "requirements.lock").read_text()).groups()
    spec = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert spec == f">={major}.{minor},<{major}.{int(minor) + 1}"
    assert missing_phrases({"README.md": [f"Python {major}.{minor}"]}) == []


def test_the_licence_file_and_the_readme_agree():
    licence = (REPO / "LICENSE").read_text()
    assert "All rights reserved" in licence and "the gx1 authors" in licence
    assert "[`LICENSE`](LICENSE)" in doc_text("README.md").split("## Licence", 1)[1]


NOTEBOOK = re.compile(r"this round|previous round|earlier rounds?|this session|our build machines|this machine(?!"
                      r" reproduces)|§ ?\d|the plan's §", re.IGNORECASE)


def test_the_docs_read_as_reference_not_as_a_notebook():
    """No history of the work ("this round", "this machine") and no section numbers of a document the
    repository does not have; `this machine reproduces` is gx1.doctor's own output, quoted."""
    offenders = [f"{name}:{number}: {match.group(0)}" for name in DOCS
                 for number, line in enumerate((REPO / name).read_text().splitlines(), 1)
                 for match in NOTEBOOK.finditer(line)]
    assert offenders == []


OUTSIDE = re.compile(r"§ ?\d|shared/spec|DESIGN\.md|STYLE\.md|step3c_")


def test_the_code_names_no_section_or_file_outside_the_repository():
    """Docstrings, help texts and printed lines name what the repository has: no section number of the plan,
    no planning file a clone does not have."""
    sources = sorted([*REPO.glob("gx1/**/*.py"), *REPO.glob("scripts/*.py"), *REPO.glob("tests/*.py"),
                      REPO / "params.yaml", REPO / "dvc.yaml", REPO / "pyproject.toml"])
    offenders = [f"{path.relative_to(REPO)}:{number}: {match.group(0)}" for path in sources
                 if path.name != "test_docs.py"  # the patterns themselves
                 for number, line in enumerate(path.read_text().splitlines(), 1) for match in OUTSIDE.finditer(line)]
    assert offenders == []


def test_the_readme_is_short_and_starts_with_the_quick_start():
    """At most 250 lines; clone, the lock, `dvc repro` and the tests within its first 60 lines (a screen)."""
    lines = (REPO / "README.md").read_text().splitlines()
    first_screen = "\n".join(lines[:60])
    assert len(lines) <= 250
    assert all(step in first_screen for step in ("git clone", "requirements.lock", "dvc repro", "python3 -m pytest"))
