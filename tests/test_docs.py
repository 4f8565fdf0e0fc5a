"""The README and docs stand alone: no reference to a file outside the repository, and every source path they
name exists (a renamed module fails here until the docs follow)."""
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
