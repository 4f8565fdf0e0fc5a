"""The commands in README.md and docs/*.md run as written, on small data.

The convention: a fenced ``bash`` block whose preceding line is ``<!-- runnable -->`` is run by this
module; a plain fenced block whose preceding line is ``<!-- expected output -->`` shows the end of
`dvc repro`'s output and is matched against it. Blocks that cannot run here (a `git clone` of a URL,
`pip install`, torchrun on several nodes, a GPU, a shared remote path, an asynchronous queue) stay
unmarked; docs/testing.md says how many blocks there are and how many are runnable, and
``test_the_block_census_in_the_docs_is_the_docs`` checks those two numbers.

The runnable blocks run in one small copy of the project (tests/dvc_project.py) whose data source is the
first SMALL_BARS bars of the default synthetic year (so `-S limit_samples=0 -S epochs=5` trains seconds,
not minutes), reproduced once; they run in document order (README.md first, then docs/*.md by name) with
`bash -e -o pipefail`, so a later block may use what an earlier one made (the README's `smoke` and
`fullyear` experiments). Numbers in an expected output match any number here: the default data's figures
are checked by tests/test_docs.py.

Run: python3 -m pytest -q tests/test_doc_commands.py      (the census in seconds; the blocks about 2-3 minutes)
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from dvc_project import MARKS, small_project

REPO = Path(__file__).resolve().parents[1]
DOCS = ("README.md", *sorted(f"docs/{p.name}" for p in (REPO / "docs").glob("*.md")))
RUNNABLE, EXPECTED = "<!-- runnable -->", "<!-- expected output -->"
SMALL_BARS = 3000  # two and a half weeks of M5 bars: past the warm-up, a replay week and a training set
BLOCK_TIMEOUT_S = 600


def fenced_blocks(name: str) -> list[dict]:
    """Every fenced block of a doc: its info string, first line number, text and the marker line above it."""
    lines = (REPO / name).read_text().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        opening = re.match(r"^(\s*)```(\S*)\s*$", lines[i])
        if opening:
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
            marker = lines[i - 1].strip() if i else ""
            blocks.append({"doc": name, "line": i + 1, "info": opening.group(2), "marker": marker,
                           "text": "\n".join(lines[i + 1:end]) + "\n"})
            i = end
        i += 1
    return blocks


ALL_BLOCKS = [block for name in DOCS for block in fenced_blocks(name)]
BASH_BLOCKS = [block for block in ALL_BLOCKS if block["info"] == "bash"]
RUNNABLE_BLOCKS = [block for block in BASH_BLOCKS if block["marker"] == RUNNABLE]
EXPECTED_BLOCKS = [block for block in ALL_BLOCKS if block["marker"] == EXPECTED]


# ---------------------------------------------------------------- fast: the markers and the census

def test_every_marker_sits_on_a_block_of_its_kind():
    """A runnable marker before anything but a bash block (or an expected-output marker before a bash
    block) would silently run nothing."""
    misplaced = []
    for name in DOCS:
        lines = (REPO / name).read_text().splitlines()
        for number, line in enumerate(lines[:-1], 1):
            following = lines[number]
            if line.strip() == RUNNABLE and not re.match(r"^\s*```bash\s*$", following):
                misplaced.append(f"{name}:{number}")
            if line.strip() == EXPECTED and not re.match(r"^\s*```\s*$", following):
                misplaced.append(f"{name}:{number}")
    assert misplaced == []


def test_the_block_census_in_the_docs_is_the_docs():
    census = (f"{len(BASH_BLOCKS)} fenced `bash` blocks, {len(RUNNABLE_BLOCKS)} of them runnable, and "
              f"{len(EXPECTED_BLOCKS)} expected outputs")
    text = re.sub(r"\s+", " ", (REPO / "docs" / "testing.md").read_text())
    assert census in text, f"docs/testing.md should say: {census}"
    assert RUNNABLE_BLOCKS and EXPECTED_BLOCKS


def expected_pattern(line: str) -> re.Pattern:
    """One expected-output line as a regex: `...` matches anything, every number matches any number."""
    escaped = re.escape(line.strip()).replace(r"\.\.\.", ".*")
    return re.compile(re.sub(r"\d+", lambda _: r"\d+", escaped))


def lines_in_order(expected: str, output: str) -> list[str]:
    """The expected lines not found in ``output``, in order (each after the previous one's match)."""
    out_lines, at, missing = output.splitlines(), 0, []
    for line in filter(str.strip, expected.splitlines()):
        pattern = expected_pattern(line)
        hit = next((i for i in range(at, len(out_lines)) if pattern.fullmatch(out_lines[i].strip())), None)
        if hit is None:
            missing.append(line)
        else:
            at = hit + 1
    return missing


def test_expected_output_matching_can_fail():
    """The matcher itself: numbers are wildcards, words are not, order counts."""
    output = "Running stage 'verify':\nall 3 checks passed for bundle b (feature contract hash 12ab)\n"
    assert lines_in_order("all 11 checks passed for bundle b (feature contract hash 98ab)", output) == []
    assert lines_in_order("all 11 checks failed for bundle b ...", output) != []
    assert lines_in_order("all 1 checks passed ...\nRunning stage 'verify':", output) != []


# ---------------------------------------------------------------- slow: the blocks, run

def use_small_bars(project_dir: Path) -> None:
    """The data source becomes the first SMALL_BARS bars of the default synthetic year, as a file."""
    import yaml
    from gx1.bars import write_bars_parquet
    from gx1.synth import generate_bars
    params_path = project_dir / "params.yaml"
    (instrument, source), = yaml.safe_load(params_path.read_text())["data"]["sources"].items()
    bars = generate_bars(instrument, source["year"], source["last_year"], source["seed"], source["interval_minutes"])
    write_bars_parquet({k: v[:SMALL_BARS] for k, v in bars.items()}, project_dir / "small_bars.parquet")
    text, count = re.subn(rf"^(\s+){instrument}: \{{file: synthetic[^}}]*\}}",
                          rf"\g<1>{instrument}: {{file: small_bars.parquet, interval_minutes: {source['interval_minutes']}}}",
                          params_path.read_text(), flags=re.MULTILINE)
    assert count == 1
    params_path.write_text(text)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    yield from small_project(tmp_path_factory, "doc_commands", prepare=use_small_bars)


@pytest.mark.parametrize("block", EXPECTED_BLOCKS, ids=[f"{b['doc']}:{b['line']}" for b in EXPECTED_BLOCKS])
@MARKS[0]
@MARKS[1]
def test_the_expected_output_is_what_dvc_repro_prints(project, block):
    assert lines_in_order(block["text"], project["repro_output"]) == [], project["repro_output"][-4000:]


@pytest.mark.parametrize("block", RUNNABLE_BLOCKS, ids=[f"{b['doc']}:{b['line']}" for b in RUNNABLE_BLOCKS])
@MARKS[0]
@MARKS[1]
def test_the_block_runs(project, block):
    result = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block["text"]], cwd=project["dir"], env=project["env"],
                            capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S)
    assert result.returncode == 0, (f"{block['doc']}:{block['line']} exited {result.returncode}\n{block['text']}\n"
                                    f"--- stdout ---\n{result.stdout[-3000:]}\n--- stderr ---\n{result.stderr[-3000:]}")
