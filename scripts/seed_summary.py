"""Moved to gx1/seed_summary.py (`python3 -m gx1.seed_summary`, `gx1-seed-summary`); this path still works."""
import pathlib, sys; sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # noqa: E401,E702
from gx1.common import run_cli; from gx1.seed_summary import main; run_cli(main)  # noqa: E402,E702
