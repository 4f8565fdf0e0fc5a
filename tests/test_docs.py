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
