"""The tree's shape: one package per layer, imports only downward, no cycles (at module level or
inside functions), small modules, and a flag table that loads nothing heavy."""
import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "nbgpu"
# lowest first: a module may import its own layer and the ones before it (the CLI dispatches
# `nbgpu bench`, so the benchmark sits below it)
LAYERS = ("_nbcore", "base", "io", "setup", "engine", "run", "batch", "bench", "cli")
LONG_MODULES = {"nbgpu.setup.flags"}         # the flag table: one rule per nanoBragg flag
MAX_LINES = 400


def modules() -> dict:
    """dotted name -> path of every module of the package"""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imported(name: str, path: Path, known) -> set:
    """The package's modules that `name` imports, anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:          # a name inside a module: the module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph() -> dict:
    known = modules()
    return {name: imported(name, path, known) for name, path in known.items()}


def layer(name: str):
    parts = name.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def test_imports_only_point_down_a_layer():
    upward = []
    for name, targets in graph().items():
        here = layer(name)
        for target in targets:
            if target == "nbgpu":
                continue                 # the package itself (its __version__)
            there = layer(target)
            if here is None and there is not None:
                continue                 # the package's front (nbgpu, nbgpu.__main__) may use any layer
            if there is None or (here is not None and there > here):
                upward.append(f"{name} -> {target}")
    assert upward == []


def test_no_import_cycles():
    edges = graph()
    cycles, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for target in sorted(edges.get(node, ())):
            if target == "nbgpu" or target not in edges:
                continue
            if state.get(target) == "open":
                cycles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[node] = "done"
    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_the_tree_is_small_at_the_top_and_its_modules_short():
    top = [p.name for p in PACKAGE.iterdir() if p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists())]
    assert len([name for name in top if name.endswith(".py")]) <= 3          # __init__, __main__ and nothing else
    assert sorted(name for name in top if not name.endswith(".py")) == sorted(LAYERS[1:])
    long = {name: len(path.read_text().splitlines()) for name, path in modules().items()
            if len(path.read_text().splitlines()) > MAX_LINES and name not in LONG_MODULES}
    assert long == {}


def test_the_flag_table_loads_neither_the_engine_nor_numpy_nor_click():
    code = ("import sys, nbgpu.setup.flags\n"
            "print(sorted(m for m in ('nbgpu._nbcore', 'numpy', 'click', 'cffi') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


STAGES = ("beam", "crystal", "detector", "resolution", "sampling", "summary", "prepare",   # setup's stages and their driver
          "nonbragg", "nonbragg_flags", "nonbragg_prepare", "noisify")       # nonBragg's, noisify's


def test_setup_stages_open_no_file_and_print_nothing():
    """Files are read in one step (setup.inputs); the stages return what nanoBragg prints."""
    for stage in STAGES:
        name = f"nbgpu.setup.{stage}"
        path = modules()[name]
        assert not {m for m in imported(name, path, modules()) if m.startswith("nbgpu.io")}, name
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in ("open", "print"), f"{name} line {node.lineno}: {node.func.id}()"
