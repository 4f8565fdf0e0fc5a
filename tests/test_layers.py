"""The package's layers, read from the source (``ast``, nothing imported): no import cycle in gx1/, no module
importing one above its layer, and every dvc.yaml stage depends on every file its command imports.

    python3 -m pytest -q tests/test_layers.py

An import is any ``import``/``from ... import`` of a gx1 module anywhere in a module (inside functions too; not
under ``if TYPE_CHECKING:``, which never runs) and any ``LazyModule("gx1....")``. A new module must be given a layer in ``LAYERS``;
a module may import its own layer and those below it.
"""
from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]

# Lowest first. A module's layer is the first entry naming it (a module, or a package ending in ".*").
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("gx1", "gx1.common", "gx1.cpu")),
    ("files and statistics", ("gx1.outputs", "gx1.scaler_io", "gx1.evaluation")),
    ("bars and features", ("gx1.bars", "gx1.synth", "gx1.features")),
    ("dataset and contract", ("gx1.dataset", "gx1.contract")),
    ("model", ("gx1.models", "gx1.models.entry_v10", "gx1.models.entry_v10.model", "gx1.models.entry_v10.fused_ops",
               "gx1.models.entry_v10.invariant_ops", "gx1.models.entry_v10.inputs", "gx1.models.entry_v10.variant",
               "gx1.fingerprint")),
    ("bundle", ("gx1.bundle", "gx1.bundle.*")),
    ("training", ("gx1.training", "gx1.training.*")),
    ("evaluation stages", ("gx1.sources", "gx1.replay", "gx1.walkforward", "gx1.fold_data", "gx1.walkforward_summary",
                           "gx1.compare", "gx1.seed_summary", "gx1.headline", "gx1.planted", "gx1.doctor",
                           "gx1.learnability", "gx1.replay_config", "gx1.pipeline_knobs")),
    ("command lines", ("gx1.cli", "gx1.verify", "gx1.models.entry_v10.entry_v10_ctx_train")),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted((REPO / "gx1").rglob("*.py"))}


def runtime_nodes(tree: ast.AST):
    """Every node of ``tree`` except those under ``if TYPE_CHECKING:`` (never run)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not (isinstance(child, ast.If) and getattr(child.test, "id", None) == "TYPE_CHECKING"):
                todo.append(child)


def imports_of(path: Path, known: dict[str, Path]) -> set[str]:
    """The gx1 modules ``path`` imports (``from a import b`` is the module a.b when there is one, else a)."""
    own = module_name(path)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    found = set()
    for node in runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names}
        elif (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "LazyModule" and node.args
              and isinstance(node.args[0], ast.Constant)):
            found.add(node.args[0].value)
    return {name for name in found if name in known and name != own}


@cache
def graph() -> dict[str, frozenset[str]]:
    known = modules()
    return {name: frozenset(imports_of(path, known)) for name, path in known.items()}


def layer_of(module: str) -> int | None:
    for index, (_, members) in enumerate(LAYERS):
        if module in members or any(m.endswith(".*") and module.startswith(m[:-1]) for m in members):
            return index
    return None


def find_cycle(edges: dict[str, frozenset[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None (depth-first search)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = 2
        path.pop()
        return None

    for start in sorted(edges):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_every_module_has_a_layer():
    assert [m for m in modules() if layer_of(m) is None] == []


def test_no_import_cycle():
    cycle = find_cycle(graph())
    assert cycle is None, f"import cycle: {' -> '.join(cycle)}"


def test_no_module_imports_one_above_its_layer():
    upward = [f"{m} ({LAYERS[layer_of(m)][0]}) imports {d} ({LAYERS[layer_of(d)][0]})"
              for m, deps in sorted(graph().items()) for d in sorted(deps)
              if layer_of(m) is not None and layer_of(d) is not None and layer_of(d) > layer_of(m)]
    assert upward == []


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"})}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": frozenset({"b"}), "b": frozenset()}) is None


# ----------------------------------------------------------------------------- dvc.yaml deps


def closure(start: set[str]) -> set[str]:
    """The modules Python loads for ``start``: what they import, in turn, and every package on the way."""
    seen, todo = set(), list(start)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph()[name])
            todo.extend(".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1))
    return seen


def runs(module: str) -> set[str]:
    """gx1 modules a module runs as commands (``python -m`` in a subprocess): its string literals that name one."""
    tree = ast.parse(modules()[module].read_text())
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and n.value in modules() and n.value != module}


def command_modules(cmd: str) -> set[str]:
    """The gx1 modules a stage command runs: ``python3 -m gx1....`` or ``python3 scripts/x.py`` (and the gx1 modules
    the script imports), and what those run in turn."""
    found = set(re.findall(r"python3? -m (gx1[\w.]*)", cmd))
    found |= {f"{name}.__main__" for name in found if f"{name}.__main__" in modules()}  # python -m runs a package's __main__
    for script in re.findall(r"python3? (scripts/[\w./-]+\.py)", cmd):
        found |= imports_of(REPO / script, modules())
    for name in list(found):
        found |= runs(name)
    return found


def stage_files(stage: dict) -> set[str]:
    """Files under gx1/ a stage's command loads."""
    return {str(modules()[name].relative_to(REPO)) for name in closure(command_modules(stage["cmd"]))}


def test_every_stage_depends_on_the_files_its_command_imports():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    missing = {}
    for name, stage in stages.items():
        stage = stage.get("do", stage)
        deps = [str(d).split("${")[0].rstrip("/") for d in stage.get("deps", [])]
        uncovered = sorted(f for f in stage_files(stage) if not any(f == d or f.startswith(d + "/") for d in deps))
        if uncovered:
            missing[name] = uncovered
    assert missing == {}
