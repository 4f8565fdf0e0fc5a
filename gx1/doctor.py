"""Does this machine reproduce a recorded arithmetic? A check in seconds, before an hour of retraining.

Run:
    python3 -m gx1.doctor                                    # against machine_fingerprint.json (beside dvc.lock)
    python3 -m gx1.doctor --bundle models/entry_v10_ctx/bundle   # against the fingerprint a bundle recorded
    python3 -m gx1.doctor --write machine_fingerprint.json  # record this machine's (after a kernel change)

It runs the pinned kernels on seeded inputs (``gx1.fingerprint``: the dataset's numpy code, a fitted
scaler, every aten op of one training step, the step's weights, inference) and compares their hashes
with the recorded ones. One line, and the exit status:

    0  this machine reproduces the recorded fingerprint (so, in the same mode, the committed dvc.lock)
    1  a kernel gives other bytes: the first that differs, how many do, and the pins that decide it
       (with this process's value beside the recorded one where they differ)
    2  bad usage, or no readable fingerprint

The fingerprint records the mode, the pins and the CPU it was made with. In portable mode its numpy and
scikit-learn kernels are the same on every x86-64 CPU with AVX2; its MKL kernels (gemm, CPU flash attention)
are the same on CPUs of the vendor that made it (``gx1.cpu``).
"""
from __future__ import annotations

from pathlib import Path

from gx1.common import ArgumentParser, CheckFailed, InputError, printable, read_json, run_cli, write_json

DEFAULT_FINGERPRINT = "machine_fingerprint.json"
KIND = "gx1 arithmetic fingerprint"


def this_machine() -> dict:
    """The fingerprint document of this process: kind, mode, pins, CPU class and the kernels' hashes."""
    from gx1.cpu import PORTABLE_CPU_CLASS, cpu_identity, pinned_values, reproducibility_mode
    from gx1.fingerprint import arithmetic_fingerprint
    mode = reproducibility_mode()
    document = {"kind": KIND, "reproducibility": mode, "cpu_pins": pinned_values(), "made_on": cpu_identity()}
    document["cpu"] = PORTABLE_CPU_CLASS if mode == "portable" else cpu_identity()
    return {**document, **arithmetic_fingerprint()}


def recorded_fingerprint(path: str | None, bundle: str | None) -> tuple[dict, str]:
    """(fingerprint, what it is) from a fingerprint file or a bundle's environment; InputError if there is none."""
    if bundle:
        from gx1.bundle.format import METADATA
        from gx1.bundle.read import open_bundle
        environment = open_bundle(bundle).document(METADATA).get("environment")
        found = environment.get("arithmetic_fingerprint") if isinstance(environment, dict) else None
        if not isinstance(found, dict):
            raise InputError(f"bundle {bundle} records no arithmetic fingerprint (made before gx1 recorded one): "
                             "retrain, or check against a fingerprint file")
        return {**found, "cpu_pins": environment.get("cpu_pins", {})}, f"bundle {bundle}"
    path = path or DEFAULT_FINGERPRINT
    document = read_json(path, "fingerprint")
    if not isinstance(document, dict) or document.get("kind") != KIND or not isinstance(document.get("kernels"), dict):
        raise InputError(f"{path}: not a {KIND} (python3 -m gx1.doctor --write {path} makes one)")
    return document, path


def compare(recorded: dict, here: dict, what: str) -> str:
    """The verdict line; CheckFailed with the line when a kernel differs."""
    from gx1.fingerprint import differing_kernels, pins_for
    differing = differing_kernels(recorded, here)
    if not differing:
        return f"this machine reproduces {what}: {len(here['kernels'])} kernels give the recorded bytes"
    first = differing[0]
    pins_recorded, pins_here = recorded.get("cpu_pins", {}), here.get("cpu_pins", {})
    names = list(dict.fromkeys(name for kernel in differing for name in pins_for(kernel)))
    advice = ", ".join(f"{name}={pins_recorded.get(name)!s} (here {pins_here.get(name)!s})"
                       if pins_recorded.get(name) != pins_here.get(name) else f"{name}={pins_here.get(name)!s}"
                       for name in names)
    raise CheckFailed(printable(f"{first!r} and {len(differing) - 1} more of {len(recorded['kernels'])} kernels give other "
                                f"bytes than {what}; they are decided by {advice}: this machine would not reproduce "
                                "that lock"))


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python3 -m gx1.doctor", description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--fingerprint", help=f"a fingerprint file (default: {DEFAULT_FINGERPRINT})")
    source.add_argument("--bundle", help="check against the fingerprint recorded in this bundle")
    source.add_argument("--write", metavar="PATH", help="write this machine's fingerprint here instead of checking")
    args = parser.parse_args(argv)
    if args.write:
        if Path(args.write).exists():
            existing = read_json(args.write, "fingerprint")
            if not isinstance(existing, dict) or existing.get("kind") != KIND:
                raise InputError(f"{args.write} exists and is not a {KIND}: not overwritten")
        document = this_machine()
        write_json(args.write, document)
        print(f"wrote {len(document['kernels'])} kernel hashes ({document['reproducibility']} mode) to {args.write}")
        return 0
    recorded, what = recorded_fingerprint(args.fingerprint, args.bundle)
    print(compare(recorded, this_machine(), what), flush=True)
    return 0


if __name__ == "__main__":
    run_cli(main)
