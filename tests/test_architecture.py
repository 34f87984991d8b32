"""The package's architecture, checked from its source (see ARCHITECTURE.md).

The import graph is derived with :mod:`ast` from every ``.py`` file under ``stylegan_tutorial/``:
nothing is imported, so a module that is broken mid-edit still shows its imports. Imports inside
functions, methods and class bodies are part of the graph, and so are the modules that ``cli``
names for ``importlib``. A module ``metrics/frechet.py`` is the node ``metrics.frechet``, a
subpackage's ``__init__.py`` the node ``metrics``, the package's own ``__init__.py`` ``__init__``.

The rule, enforced below: a module imports only modules of its own layer or lower ones; no
modules import each other in a circle; package-internal imports sit at module top level; an
import inside a function is only for the optional or heavy third-party modules of
``LAZY_IMPORTS``; ``argparse`` and ``commands`` belong to the command line.

``python tests/test_architecture.py`` prints the graph by layer and every finding at once.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "stylegan_tutorial"
ARCHITECTURE_MD = ROOT / "ARCHITECTURE.md"

# The layers of ARCHITECTURE.md's picture, top to bottom in the picture, bottom to top here.
# A key is a module ("generator", "metrics.frechet") or a package, which then also stands for
# every module inside it ("data" is data/__init__.py and all of data.*). A module's layer is its
# own entry, else that of its longest package prefix. Change this together with ARCHITECTURE.md
# (the picture and the table: test_table_agrees_with_layers compares them).
LAYERS: dict[str, int] = {
    # 0 foundation. The package's own __init__ sits here and imports nothing from the package.
    "__init__": 0,
    "lod": 0,
    "images": 0,
    "files": 0,
    "runtime": 0,
    "progress": 0,
    # 1 data: every module of data/.
    "data": 1,
    # 2 networks
    "configs": 2,
    "layers": 2,
    "mapping": 2,
    "synthesis": 2,
    "generator": 2,
    "discriminator": 2,
    "sizes": 2,
    # 3 training
    "baselines": 3,
    "autoencoders": 3,
    "losses": 3,
    "collapse": 3,
    "toy": 3,
    "dcgan": 3,
    "schedule": 3,
    "checkpoint": 3,
    "shipped": 3,
    "generate": 3,
    "distributed": 3,
    "speed": 3,
    "monitor": 3,
    "training": 3,
    "warping": 3,
    "capacity": 3,
    # 4 evaluation: oracle, and metrics with every module of metrics/.
    "oracle": 4,
    "metrics": 4,
    "noise_effects": 4,
    "style_sensitivity": 4,
    "truncation": 4,
    "projection": 4,
    "edits": 4,
    # 5 course helpers
    "viz": 5,
    "widgets": 5,
    "mixing_explorer": 5,
    "exercises": 5,
    "student": 5,
    # 6 commands: the command line, with every module of commands/.
    "cli": 6,
    "__main__": 6,
    "commands": 6,
}

# Third-party modules that may be imported inside a function, and why: each is optional (an
# extra, or only there in Jupyter) or heavy, and most uses of the package never need it. A key
# covers its submodules ("matplotlib" covers matplotlib.figure). Everything else, the standard
# library included, is imported at the top of the module. Not here on purpose: torch and numpy
# (every module needs them), safetensors (required, and free once torch is loaded: its users
# read or write checkpoints every time), tqdm (required, ~0.05 s; progress.py imports it).
# Measured on the CPU venv, on top of torch: sklearn.svm 0.7 s, matplotlib.figure 0.3 s,
# ipywidgets 0.12 s, IPython.display 0.09 s; alone: pooch 0.09 s, requests 0.1 s, PIL 0.04 s.
LAZY_IMPORTS: dict[str, str] = {
    "sklearn": "heavy (0.7 s): the digits data set, the separability metric and edit directions only",
    "matplotlib": "heavy (0.3 s): figures and loss plots only",
    "IPython": "notebook display only; a plain training run never needs it",
    "ipywidgets": "interactive controls only, in Jupyter",
    "PIL": "reading and writing image files only, at the edges (PNG, prepare-data)",
    "pooch": "downloading only (data.download); the course itself never downloads",
    "requests": "downloading only (data.download), for its exception types",
    "scipy": "not a dependency of the package (test extra only)",
    "torchmetrics": "optional extra `fid`: real FID with Inception weights",
    "torch_fidelity": "optional extra `fid`: real FID with Inception weights",
    "tensorboard": "optional extra `tensorboard`",
    "torch.utils.tensorboard": "needs the optional extra `tensorboard`",
}

# Only these modules (and the modules inside them) parse command lines.
ARGPARSE_MODULES = ("cli", "commands")
# The package of subcommands; only layer 6 imports it.
COMMANDS_PACKAGE = "commands"
# Modules the table of ARCHITECTURE.md need not list (the picture shows them).
NOT_IN_TABLE = {"__init__", "__main__"}
# The rule's layer numbers, and the one layer that may import `commands`.
TOP_LAYER = 6


# --------------------------------------------------------------------------------------------
# The graph, from the source.


@dataclass(frozen=True)
class Import:
    """One import statement (or one name of a ``from`` import) in the package's source."""

    source: str  # the importing module's node name, e.g. "data.dataset"
    module: str  # the absolute module as written, e.g. "stylegan_tutorial.data.faces", "torch.nn"
    target: str | None  # the package node it reaches, None for a module outside the package
    path: Path
    line: int
    in_function: bool  # inside a def, lambda or class body rather than at module level
    by_name: bool = False  # a module named in a string for importlib (cli's table of commands)

    @property
    def where(self) -> str:
        try:
            return f"{self.path.relative_to(ROOT)}:{self.line}"
        except ValueError:
            return f"{self.path}:{self.line}"


@dataclass
class Graph:
    package: str
    modules: dict[str, Path]  # node name -> file
    imports: list[Import]

    def edges(self) -> dict[str, dict[str, list[Import]]]:
        """source -> target -> the imports that make that arrow (self-imports left out)."""
        out: dict[str, dict[str, list[Import]]] = {m: {} for m in self.modules}
        for imp in self.imports:
            if imp.target is not None and imp.target != imp.source and imp.target in self.modules:
                out[imp.source].setdefault(imp.target, []).append(imp)
        return out


def node_name(path: Path, package_dir: Path) -> str:
    """``metrics/frechet.py`` -> ``metrics.frechet``; ``metrics/__init__.py`` -> ``metrics``."""
    parts = list(path.relative_to(package_dir).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) or "__init__"


class _ImportVisitor(ast.NodeVisitor):
    def __init__(self, graph: Graph, source: str, path: Path, is_package: bool):
        self.graph, self.source, self.path, self.is_package = graph, source, path, is_package
        self.depth = 0  # how many def/lambda/class bodies we are inside
        self.uses_importlib = False
        self.found: list[Import] = []

    # Scopes that are not module level.
    def _nested(self, node):
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = visit_ClassDef = _nested

    def _add(self, module: str, line: int, target: str | None = None, by_name: bool = False):
        if target is None:
            target = self._resolve(module)
        self.found.append(Import(self.source, module, target, self.path, line, self.depth > 0, by_name))

    def _resolve(self, module: str) -> str | None:
        """The package node of an absolute module name; None outside the package."""
        pkg = self.graph.package
        if module != pkg and not module.startswith(pkg + "."):
            return None
        # A name that is no module of the package is kept as it is, so that it is reported.
        return module[len(pkg) + 1:] or "__init__"

    def visit_Import(self, node: ast.Import):
        for alias in node.names:
            if alias.name == "importlib" or alias.name.startswith("importlib."):
                self.uses_importlib = True
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom):
        if node.level:
            # Relative: the importing module's package, then one package up per extra dot.
            own = "" if self.source == "__init__" else self.source
            base = own.split(".") if own else []
            if not self.is_package:
                base = base[:-1]
            base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
            module = ".".join([self.graph.package, *base, *([node.module] if node.module else [])])
        else:
            module = node.module or ""
        if module == "importlib" or module.startswith("importlib."):
            self.uses_importlib = True
        target = self._resolve(module)
        if target is None:
            self._add(module, node.lineno, None)
            return
        # `from stylegan_tutorial.metrics import frechet`: a name that is a submodule is that node.
        reached: dict[str, str] = {}
        for alias in node.names:
            sub = f"{module}.{alias.name}"
            sub_node = self._resolve(sub)
            if sub_node in self.graph.modules and sub_node != target:
                reached[sub_node] = sub
            else:
                reached[target] = module
        for reached_node, reached_module in reached.items():
            self._add(reached_module, node.lineno, reached_node)

    def visit_Call(self, node: ast.Call):
        # importlib.import_module("stylegan_tutorial.x") with a literal name.
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name == "import_module" and node.args and isinstance(node.args[0], ast.Constant):
            value = node.args[0].value
            if isinstance(value, str) and self._resolve(value) is not None:
                self._add(value, node.lineno, by_name=True)
        self.generic_visit(node)


def build_graph(package_dir: Path, package: str | None = None) -> Graph:
    """Parse every ``.py`` under ``package_dir`` and collect its imports."""
    package = package or package_dir.name
    files = sorted(p for p in package_dir.rglob("*.py") if "__pycache__" not in p.parts)
    graph = Graph(package, {node_name(p, package_dir): p for p in files}, [])
    for path in files:
        source = node_name(path, package_dir)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        visitor = _ImportVisitor(graph, source, path, path.name == "__init__.py")
        visitor.visit(tree)
        if visitor.uses_importlib:
            # A module that imports by name (cli's table of subcommands): every string constant
            # that is exactly a package module's dotted name is an arrow to that module.
            # A name that is no module (a subcommand whose module is gone) is reported as missing.
            dotted = re.compile(re.escape(package) + r"(\.[A-Za-z_]\w*)+")
            seen = {i.module for i in visitor.found if i.by_name}
            for node in ast.walk(tree):
                if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                        and dotted.fullmatch(node.value) and node.value not in seen):
                    seen.add(node.value)
                    visitor._add(node.value, node.lineno, by_name=True)
        graph.imports.extend(visitor.found)
    return graph


# --------------------------------------------------------------------------------------------
# The checks: each returns its findings as lines of text, empty when the rule holds.


def layer_of(module: str, layers: dict[str, int]) -> int | None:
    """The module's own entry in ``layers``, else its longest package prefix's, else None."""
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        key = ".".join(parts[:i])
        if key in layers:
            return layers[key]
    return None


def modules_without_layer(graph: Graph, layers: dict[str, int]) -> list[str]:
    return [m for m in sorted(graph.modules) if layer_of(m, layers) is None]


def missing_targets(graph: Graph) -> list[str]:
    return sorted(f"{i.where}: {i.source} {'names' if i.by_name else 'imports'} {i.module}, which is "
                  f"not a module of the package" for i in graph.imports
                  if i.target is not None and i.target not in graph.modules)


def upward_arrows(graph: Graph, layers: dict[str, int]) -> list[str]:
    found = []
    for source, targets in graph.edges().items():
        a = layer_of(source, layers)
        for target, imps in sorted(targets.items()):
            b = layer_of(target, layers)
            where = ", ".join(i.where + (" (by name)" if i.by_name else "") for i in imps)
            if source == "__init__":
                found.append(f"__init__ -> {target} (the package's __init__ imports nothing from "
                             f"the package)   [{where}]")
            elif a is not None and b is not None and b > a:
                found.append(f"{source} -> {target} (layer {a} -> {b})   [{where}]")
    return sorted(found)


def strongly_connected_components(edges: dict[str, Iterable[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; every component, singletons included."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return components


def simple_cycles(edges: dict[str, Iterable[str]], members: list[str], limit: int = 20) -> list[list[str]]:
    """The circles within one component, each once (starting at its smallest node), at most ``limit``."""
    inside = set(members)
    cycles: list[list[str]] = []
    for start in sorted(members):
        allowed = {m for m in inside if m >= start}
        path, todo = [start], [iter(sorted(t for t in edges[start] if t in allowed))]
        while todo and len(cycles) < limit:
            for nxt in todo[-1]:
                if nxt == start:
                    cycles.append(path + [start])
                elif nxt not in path:
                    path.append(nxt)
                    todo.append(iter(sorted(t for t in edges[nxt] if t in allowed)))
                    break
            else:
                todo.pop()
                path.pop()
    return cycles


def circles(graph: Graph) -> list[str]:
    edges = graph.edges()
    found = []
    for component in sorted(strongly_connected_components(edges)):
        if len(component) < 2:
            continue
        found.append(f"circle among {{{', '.join(component)}}}:")
        for cycle in simple_cycles(edges, component):
            arrows = [f"{a} -> {b} [{', '.join(i.where for i in edges[a][b])}]"
                      for a, b in zip(cycle, cycle[1:])]
            found.append("    " + " -> ".join(cycle) + "\n        " + "\n        ".join(arrows))
    return found


def function_level_imports(graph: Graph, lazy: Iterable[str]) -> list[str]:
    lazy = tuple(lazy)
    stdlib = sys.stdlib_module_names
    found = []
    for i in graph.imports:
        if not i.in_function or i.by_name:
            continue
        if i.target is not None:
            why = "package-internal: move it to the top of the module"
        elif any(i.module == m or i.module.startswith(m + ".") for m in lazy):
            continue
        elif i.module.split(".")[0] in stdlib:
            why = "standard library: move it to the top of the module"
        else:
            why = "third-party, not in LAZY_IMPORTS: move it to the top (or add it to LAZY_IMPORTS, with why)"
        found.append(f"{i.where}: {i.source} imports {i.module} inside a function ({why})")
    return sorted(found)


def command_line_leaks(graph: Graph, layers: dict[str, int]) -> list[str]:
    found = []
    for i in graph.imports:
        top = i.source.split(".")[0]
        if i.module.split(".")[0] == "argparse" and top not in ARGPARSE_MODULES:
            found.append(f"{i.where}: {i.source} imports argparse (only cli and commands/ parse "
                         f"command lines)")
        if (i.target is not None and i.target.split(".")[0] == COMMANDS_PACKAGE
                and layer_of(i.source, layers) != TOP_LAYER):
            found.append(f"{i.where}: {i.source} imports {i.target} "
                         f"(only layer {TOP_LAYER} imports commands)")
    return sorted(found)


# The table of ARCHITECTURE.md: `| 2 | `configs` | its one job | 10, 12 |`.
_TABLE_ROW = re.compile(r"^\|\s*(\d+)\s*\|([^|]*)\|")


def architecture_table(text: str) -> dict[str, int]:
    """Backticked module names of the table's rows -> their layer. ``commands/*`` -> ``commands/*``."""
    table: dict[str, int] = {}
    for line in text.splitlines():
        match = _TABLE_ROW.match(line.strip())
        if match:
            for name in re.findall(r"`([^`]+)`", match.group(2)):
                table[name.strip()] = int(match.group(1))
    return table


def _covers(entry: str, module: str, graph: Graph) -> bool:
    """Whether a table entry names ``module``: itself, or ``pkg/*`` / a package for what is inside."""
    if entry.endswith("/*"):
        package = entry[:-2].replace("/", ".")
        return module == package or module.startswith(package + ".")
    entry = entry.replace("/", ".")
    if module == entry:
        return True
    is_package = entry in graph.modules and graph.modules[entry].name == "__init__.py"
    return is_package and module.startswith(entry + ".")


def table_mismatches(graph: Graph, table: dict[str, int]) -> list[str]:
    found = []
    for entry in sorted(table):
        name = entry[:-2].replace("/", ".") if entry.endswith("/*") else entry.replace("/", ".")
        if name not in graph.modules:
            kind = "package" if entry.endswith("/*") else "module"
            found.append(f"ARCHITECTURE.md's table lists `{entry}`, but there is no such {kind}")
    for module in sorted(graph.modules):
        if module in NOT_IN_TABLE:
            continue
        named = any(_covers(e, module, graph) for e in table)
        # A subpackage's __init__ is covered when the table names any module inside it (data.*).
        inside = any(e.replace("/", ".").startswith(module + ".") for e in table)
        if not (named or inside):
            found.append(f"module {module} is missing from ARCHITECTURE.md's table")
    return found


def table_layer_mismatches(table: dict[str, int], layers: dict[str, int]) -> list[str]:
    found = []
    for entry, layer in sorted(table.items()):
        name = entry[:-2].replace("/", ".") if entry.endswith("/*") else entry.replace("/", ".")
        ours = layer_of(name, layers)
        if ours != layer:
            found.append(f"ARCHITECTURE.md's table puts `{entry}` in layer {layer}, LAYERS says {ours}")
    named = {e[:-2].replace("/", ".") if e.endswith("/*") else e.replace("/", ".") for e in table}
    for key in sorted(set(layers) - NOT_IN_TABLE):
        if key not in named and not any(n.startswith(key + ".") for n in named):
            found.append(f"LAYERS has {key!r}, which ARCHITECTURE.md's table does not list")
    return found


def _report(title: str, lines: list[str]) -> str:
    text = f"{title} ({len(lines)}):\n  " + "\n  ".join(lines)
    print(text)  # shown with -s or -rA, and by `python tests/test_architecture.py`
    return text


# --------------------------------------------------------------------------------------------
# The tests on the real package.


@pytest.fixture(scope="module")
def graph() -> Graph:
    try:
        return build_graph(ROOT / PACKAGE)
    except SyntaxError as err:
        pytest.fail(f"cannot parse {err.filename}:{err.lineno}: {err.msg}")


def test_every_module_has_a_layer(graph):
    orphans = modules_without_layer(graph, LAYERS)
    assert not orphans, _report(
        "modules with no layer: add each to LAYERS in tests/test_architecture.py and to "
        "ARCHITECTURE.md (picture and table)", orphans)


def test_internal_imports_reach_existing_modules(graph):
    missing = missing_targets(graph)
    assert not missing, _report("imports of package modules that do not exist", missing)


def test_no_arrow_points_up(graph):
    arrows = upward_arrows(graph, LAYERS)
    assert not arrows, _report(
        "imports of a higher layer (a module imports its own layer or lower ones; __init__ "
        "imports nothing from the package)", arrows)


def test_no_circles(graph):
    found = circles(graph)
    assert not found, _report("modules that import each other in a circle", found)


def test_imports_inside_functions_are_lazy_third_party_only(graph):
    found = function_level_imports(graph, LAZY_IMPORTS)
    assert not found, _report(
        "imports inside functions (allowed only for LAZY_IMPORTS' optional or heavy third-party "
        "modules)", found)


def test_only_the_command_line_uses_argparse_and_commands(graph):
    found = command_line_leaks(graph, LAYERS)
    assert not found, _report("command-line code outside cli and commands/", found)


def test_importing_the_package_imports_no_torch():
    code = (
        "import sys, time, json\n"
        "t = time.perf_counter()\n"
        "import stylegan_tutorial\n"
        "dt = time.perf_counter() - t\n"
        "mods = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
        "ours = sorted(m for m in sys.modules if m.startswith('stylegan_tutorial'))\n"
        "print(json.dumps({'seconds': dt, 'torch': mods, 'package': ours}))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, f"`import {PACKAGE}` failed:\n{run.stderr}"
    result = json.loads(run.stdout.strip().splitlines()[-1])
    # Information only, never asserted: the machine's load decides it.
    print(f"import {PACKAGE}: {result['seconds'] * 1000:.1f} ms; package modules loaded: "
          f"{', '.join(result['package'])}")
    assert not result["torch"], (
        f"`import {PACKAGE}` imports torch ({len(result['torch'])} torch modules, e.g. "
        f"{result['torch'][:3]}); package modules it loaded: {result['package']}")


def test_table_modules_exist_and_cover_the_package(graph):
    found = table_mismatches(graph, architecture_table(ARCHITECTURE_MD.read_text(encoding="utf-8")))
    assert not found, _report("ARCHITECTURE.md's table and the package disagree", found)


def test_table_agrees_with_layers():
    found = table_layer_mismatches(architecture_table(ARCHITECTURE_MD.read_text(encoding="utf-8")),
                                   LAYERS)
    assert not found, _report("ARCHITECTURE.md's table and LAYERS disagree", found)


def test_the_constants_are_well_formed():
    assert set(LAYERS.values()) == set(range(TOP_LAYER + 1))
    assert all(re.fullmatch(r"[A-Za-z_][\w.]*", k) for k in list(LAYERS) + list(LAZY_IMPORTS))
    assert "torch" not in LAZY_IMPORTS and "numpy" not in LAZY_IMPORTS and PACKAGE not in LAZY_IMPORTS
    assert all(why.strip() for why in LAZY_IMPORTS.values()), "each lazy import says why"


# --------------------------------------------------------------------------------------------
# The checks can fail: a tiny package with a circle, an upward arrow and a lazy internal import.


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_checks_find_violations_in_a_synthetic_package(tmp_path):
    pkg = tmp_path / "toypkg"
    _write(pkg, {
        "__init__.py": "from toypkg import low\n",            # __init__ imports the package
        "low.py": "import os\nfrom toypkg.high import thing\n",  # up: low (0) -> high (1)
        "high.py": "import toypkg.low\nimport numpy\n",
        "a.py": "from . import b\n",                          # circle a -> b -> a ...
        "b.py": "def f():\n    from toypkg.a import x\n    import sklearn.svm\n    import json\n"
                "    import torch\n",                         # ... closed inside a function
        "sub/__init__.py": "",
        "sub/c.py": "from toypkg.sub import d\nfrom ..low import y\nfrom . import e as _e\n"
                    "import argparse\nimport toypkg.sub.d\n",
        "sub/d.py": "class K:\n    import toypkg.gone\n",      # in a class body, and missing
        "sub/e.py": "import importlib\nNAMES = ['toypkg.a', 'not.toypkg', 'toypkg.sub.f']\n"
                    "importlib.import_module('toypkg.sub.d')\n",
    })
    layers = {"__init__": 0, "low": 0, "high": 1, "a": 1, "b": 1, "sub": 1}
    g = build_graph(pkg)

    assert set(g.modules) == {"__init__", "low", "high", "a", "b", "sub", "sub.c", "sub.d", "sub.e"}
    edges = {s: set(t) for s, t in g.edges().items()}
    assert edges["sub.c"] == {"sub.d", "low", "sub.e"}          # from-import of a submodule, relative
    assert edges["a"] == {"b"} and edges["b"] == {"a"}
    assert edges["sub.e"] == {"a", "sub.d"}                       # importlib by name
    assert edges["high"] == {"low"}

    assert modules_without_layer(g, layers) == []
    assert modules_without_layer(g, {k: v for k, v in layers.items() if k != "sub"}) == [
        "sub", "sub.c", "sub.d", "sub.e"]
    assert missing_targets(g) == [
        f"{g.modules['sub.d']}:2: sub.d imports toypkg.gone, which is not a module of the package",
        f"{g.modules['sub.e']}:2: sub.e names toypkg.sub.f, which is not a module of the package"]

    arrows = upward_arrows(g, layers)
    assert any(a.startswith("low -> high (layer 0 -> 1)") for a in arrows), arrows
    assert any(a.startswith("__init__ -> low (the package's __init__ imports nothing") for a in arrows)
    assert len(arrows) == 2, arrows

    found = circles(g)
    assert [f for f in found if f.startswith("circle")] == [
        "circle among {a, b}:", "circle among {high, low}:"], found
    assert any(f.strip().startswith("a -> b -> a\n") for f in found), found
    assert any(f.strip().startswith("high -> low -> high\n") for f in found), found
    assert strongly_connected_components({"x": ["y"], "y": ["z"], "z": ["x"], "w": ["x"]}) == [
        ["x", "y", "z"], ["w"]]
    assert simple_cycles({"x": ["y", "z"], "y": ["x"], "z": ["x"]}, ["x", "y", "z"]) == [
        ["x", "y", "x"], ["x", "z", "x"]]

    lazy = function_level_imports(g, ["sklearn"])
    assert len(lazy) == 4, lazy                                  # toypkg.a, json, torch, class body
    assert any("imports toypkg.a inside a function (package-internal" in x for x in lazy)
    assert any("imports json inside a function (standard library" in x for x in lazy)
    assert any("imports torch inside a function (third-party" in x for x in lazy)
    assert not any("sklearn" in x for x in lazy)

    leaks = command_line_leaks(g, layers)
    assert len(leaks) == 1 and "sub.c imports argparse" in leaks[0], leaks

    table = architecture_table("| layer | module |\n|---|---|\n| 0 | `low`, `gone` | job | 1 |\n"
                               "| 1 | `sub/*` | job | 2 |\n| 1 | `a` | job | 3 |\n")
    assert table == {"low": 0, "gone": 0, "sub/*": 1, "a": 1}
    assert table_mismatches(g, table) == [
        "ARCHITECTURE.md's table lists `gone`, but there is no such module",
        "module b is missing from ARCHITECTURE.md's table",
        "module high is missing from ARCHITECTURE.md's table",
    ]
    assert table_layer_mismatches(table, layers) == [
        "ARCHITECTURE.md's table puts `gone` in layer 0, LAYERS says None",
        "LAYERS has 'b', which ARCHITECTURE.md's table does not list",
        "LAYERS has 'high', which ARCHITECTURE.md's table does not list",
    ]


def test_layer_of_uses_the_longest_prefix():
    layers = {"data": 1, "metrics": 4, "metrics.special": 2}
    assert layer_of("data", layers) == 1 and layer_of("data.faces", layers) == 1
    assert layer_of("metrics.special.x", layers) == 2 and layer_of("metrics.swd", layers) == 4
    assert layer_of("database", layers) is None


# --------------------------------------------------------------------------------------------


def main() -> int:
    g = build_graph(ROOT / PACKAGE)
    edges = g.edges()
    print(f"{len(g.modules)} modules, {sum(len(t) for t in edges.values())} arrows")
    for layer in range(TOP_LAYER, -1, -1):
        names = sorted(m for m in g.modules if layer_of(m, LAYERS) == layer)
        print(f"  layer {layer}: {' '.join(names)}")
    table = architecture_table(ARCHITECTURE_MD.read_text(encoding="utf-8"))
    problems = 0
    for title, lines in [
        ("modules with no layer", modules_without_layer(g, LAYERS)),
        ("imports of modules that do not exist", missing_targets(g)),
        ("upward arrows", upward_arrows(g, LAYERS)),
        ("circles", circles(g)),
        ("imports inside functions", function_level_imports(g, LAZY_IMPORTS)),
        ("argparse/commands outside the command line", command_line_leaks(g, LAYERS)),
        ("table vs package", table_mismatches(g, table)),
        ("table vs LAYERS", table_layer_mismatches(table, LAYERS)),
    ]:
        print()
        _report(title, lines)
        problems += len(lines)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
