"""``python3 -m gx1.bundle --train_dir DIR --out DIR``: the command line of ``gx1.bundle.assemble``."""
from gx1.bundle.assemble import main
from gx1.common import run_cli

if __name__ == "__main__":
    run_cli(main)
