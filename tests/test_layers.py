"""The layers point one way: tipoff_core <- resources <- pipeline_assets <- wiring (definitions,
jobs, schedules, sensors).  One module holds every job, one every resource class, one the run tags."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("tipoff_core", "resources", "pipeline_assets", "sensors")
# What each layer may import of the project (besides itself).
ALLOWED = {
    "tipoff_core": set(),
    "resources": {"tipoff_core"},
    "pipeline_assets": {"tipoff_core", "resources"},
    "sensors": {"tipoff_core", "resources", "pipeline_assets"},
}
# Modules that load the whole code location (tools on top of the wiring) and modules that wire.
LOADS_CODE_LOCATION = {"pipeline_assets/cli.py", "sensors/replay.py"}
WIRING = {"pipeline_assets/definitions.py"}
# Imports inside a function that are deliberate (chosen at run time, or slow to load) -- never
# a way around a cycle.
LAZY_OK = {
    ("pipeline_assets/cli.py", "pipeline_assets.definitions"),
    # the check rules as Dagster events, only when `tipoff run` reports to the instance (Dagster
    # loads only for the commands that need it)
    ("pipeline_assets/cli.py", "pipeline_assets.output_checks"),
    ("resources/sources/__init__.py", "resources.sources.simulated"),
    ("resources/sources/__init__.py", "resources.sources.archive"),
    ("resources/sources/__init__.py", "resources.sources.live"),
}


def _modules():
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            yield pkg, path.relative_to(REPO).as_posix(), ast.parse(path.read_text())


def _imports(tree: ast.AST):
    """(module, inside_a_function) for every import of the file."""
    out = []

    def visit(node, in_func):
        for child in ast.iter_child_nodes(node):
            f = in_func or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                out.extend((a.name, in_func) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and not child.level:
                out.extend([(child.module, in_func)] + [
                    (f"{child.module}.{a.name}", in_func) for a in child.names])
            visit(child, f)
    visit(tree, False)
    return out


def _project(name: str) -> str | None:
    top = name.split(".")[0]
    return top if top in PACKAGES else None


@pytest.mark.parametrize("pkg, rel, tree", list(_modules()), ids=lambda x: x if isinstance(x, str) else "")
def test_imports_respect_the_layers(pkg, rel, tree):
    for name, in_func in _imports(tree):
        top = _project(name)
        if top is None:
            if pkg == "tipoff_core":
                assert not name.startswith("dagster"), f"{rel} imports Dagster: the core must not"
            continue
        if top != pkg and rel not in WIRING | LOADS_CODE_LOCATION:
            assert top in ALLOWED[pkg], f"{rel} imports {name}: {pkg} may only import {ALLOWED[pkg]}"
        wiring = name.startswith("pipeline_assets.definitions") or (
            top == "sensors" and pkg == "pipeline_assets")
        if wiring:
            assert rel in LOADS_CODE_LOCATION | WIRING, f"{rel} imports the wiring ({name})"
        if in_func:
            assert (rel, name) in LAZY_OK or (rel, name.rsplit(".", 1)[0]) in LAZY_OK, \
                f"{rel} imports {name} inside a function: import it at the top (layers have no cycles)"


def _sources():
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            yield path.relative_to(REPO).as_posix(), path.read_text()


def test_one_module_holds_every_job():
    where = {rel for rel, text in _sources() if "define_asset_job(" in text}
    assert where == {"pipeline_assets/jobs.py"}


def test_one_module_holds_every_resource_class():
    where = {rel for rel, text in _sources() if re.search(r"class \w+\(dg\.ConfigurableResource\)", text)}
    assert where == {"resources/dagster_resources.py"}


def test_one_module_holds_the_run_tags():
    literal = re.compile(r"""["']tipoff/[a-z_]+["']""")
    where = {rel for rel, text in _sources() if literal.search(text)}
    assert where == {"tipoff_core/tags.py"}
