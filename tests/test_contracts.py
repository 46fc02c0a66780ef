"""Probes of the import contracts in pyproject.toml: import-linter itself checks each contract
on the package's real import graph with one bad import added, and the contract must break on
that import.  A contract a new file could walk past would stay kept and fail its probe.

app.py is a module, not a package, so import-linter cannot see it: :func:`app_script_breaks`
reads its imports and holds it to its rule (:data:`APP_SCRIPT_MAY_IMPORT`), probed the same way
on a copy with one bad import added."""
from __future__ import annotations

import ast
import copy
import sys
import tomllib
from pathlib import Path

import grimp
import pytest
from importlinter.configuration import configure
from importlinter.contracts.acyclic_siblings import AcyclicSiblingsContract
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.contracts.layers import LayersContract

ROOT = Path(__file__).resolve().parents[1]
SAMPLING = "sampling never imports training or data loading"
RENDERING = "rendering reaches training and data only through the timbres' trainer"
BENCHMARKS = "benchmarks import composer's rooms, never its faces"
NOT_BENCHMARKS = "composer never imports its benchmarks"
CYCLES = "no cycles between sibling modules"
APP_SCRIPT_MAY_IMPORT = ("composer.app", "composer.pipeline", "composer.render.ddsp.timbre")
"""What app.py, the app's launcher, may import of composer: the app package, the cascade it
hands the app (``Composer``) and the list of installed timbres.  Never the command line (another
face), training, tasks or data, nor a room the app itself should reach for."""

configure()   # import-linter's settings (its timer), which `lint-imports` sets on start


def _contract(name: str) -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return next(c for c in config["tool"]["importlinter"]["contracts"] if c["name"] == name)


def _root_packages() -> list[str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["root_packages"]


def _layers() -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return next(c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers")


def violations(contract: dict, graph) -> set[tuple[str, str]]:
    """(importer, imported) of every import on a chain that breaks ``contract``, as
    import-linter reports it (the check runs on a copy: it removes the ignored imports)."""
    kind = {"forbidden": ForbiddenContract, "layers": LayersContract}[contract["type"]]
    options = {k: v for k, v in contract.items() if k not in ("name", "type")}
    check = kind(name=contract["name"], session_options={"root_packages": _root_packages()},
                 contract_options=options).check(copy.deepcopy(graph), verbose=False)
    found = set()
    if contract["type"] == "forbidden":
        chains = [chain for entry in check.metadata.get("invalid_chains", []) for chain in entry["chains"]]
    else:
        chains = [route["chain"] for entry in check.metadata.get("invalid_dependencies", [])
                  for route in entry["routes"]]
    for chain in chains:
        found |= {(link["importer"], link["imported"]) for link in chain}
    assert check.kept == (not found)
    return found


def _reached(graph, module: str) -> set[str]:
    """Every module that ``module`` imports, directly or through a chain."""
    seen, todo = set(), [module]
    while todo:
        for imported in graph.find_modules_directly_imported_by(todo.pop()):
            if imported not in seen:
                seen.add(imported)
                todo.append(imported)
    return seen


def rendering_leaks(graph, contract: dict) -> list[tuple[str, str]]:
    """(render module, forbidden package) for every module under render, other than the named
    trainer modules, with an import chain into a forbidden package: through a named module
    too, which the contract's ignored imports alone would let pass."""
    named = {rule.split(" -> ")[0] for rule in contract["ignore_imports"]}
    found = []
    for source in contract["source_modules"]:
        for module in sorted(({source} | graph.find_descendants(source)) - named):
            reached = _reached(graph, module)
            for package in contract["forbidden_modules"]:
                if reached & ({package} | graph.find_descendants(package)):
                    found.append((module, package))
    return found


def app_script_imports(source: str) -> set[str]:
    """Every composer module that the Python ``source`` imports, at the top or inside a function
    (``from composer import x`` counts as ``composer.x``)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found |= ({f"{node.module}.{alias.name}" for alias in node.names} if node.module == "composer"
                      else {node.module})
    return {name for name in found if name == "composer" or name.startswith("composer.")}


def app_script_breaks(source: str) -> list[str]:
    """The composer modules ``source`` (app.py's text) imports outside :data:`APP_SCRIPT_MAY_IMPORT`."""
    return sorted(name for name in app_script_imports(source)
                  if not any(name == allowed or name.startswith(allowed + ".") for allowed in APP_SCRIPT_MAY_IMPORT))


@pytest.fixture(scope="module")
def built():
    if str(ROOT) not in sys.path:       # benchmarks/ is a package at the repository's root
        sys.path.insert(0, str(ROOT))
    return grimp.build_graph(*_root_packages())


@pytest.fixture()
def graph(built):
    return copy.deepcopy(built)


def test_sampling_is_forbidden_training_and_data_outright(graph):
    contract = _contract(SAMPLING)
    assert contract["source_modules"] == ["composer.pipeline", "composer.chart", "composer.levels"]
    assert contract["forbidden_modules"] == ["composer.training", "composer.data"]
    # no module is let through: the training tasks live in composer.tasks, not in levels
    assert "ignore_imports" not in contract
    assert not any(m.endswith("_task") for m in graph.find_descendants("composer.levels"))
    # every file under levels is covered, the drum level and the line prior too
    assert {"composer.levels.drums", "composer.levels.line_prior",
            "composer.levels.melody"} <= graph.find_descendants("composer.levels")
    assert violations(contract, graph) == set()


def test_a_new_sampler_that_imports_training_is_caught(graph):
    graph.add_module("composer.levels.new_level")
    graph.add_import(importer="composer.levels.new_level", imported="composer.training.loop")
    assert ("composer.levels.new_level", "composer.training.loop") in violations(_contract(SAMPLING), graph)


def test_a_level_that_imports_its_training_task_is_caught(graph):
    """By the sampling contract (the task reaches training and data) and by the layers (tasks
    sit above levels)."""
    graph.add_import(importer="composer.levels.drums", imported="composer.tasks.drums")
    bad = ("composer.levels.drums", "composer.tasks.drums")
    assert bad in violations(_contract(SAMPLING), graph)
    assert bad in violations(_layers(), graph)


@pytest.mark.parametrize("importer, imported", [("composer.pipeline", "composer.tasks.form"),
                                                ("composer.tasks.form", "composer.pipeline")])
def test_the_cascade_and_the_tasks_never_import_each_other(graph, importer, imported):
    """"|" siblings: the layers contract breaks on either direction."""
    before = violations(_layers(), graph)
    graph.add_import(importer=importer, imported=imported)
    assert (importer, imported) in violations(_layers(), graph) - before


@pytest.mark.parametrize("importer, imported", [("composer.render.mix", "composer.levels.notes"),
                                                ("composer.levels.notes", "composer.render.mix"),
                                                ("composer.tracks", "composer.spelling"),
                                                ("composer.score", "composer.form")])
def test_siblings_of_a_line_never_import_each_other(graph, importer, imported):
    """Every line of the layers is "|" siblings (":" would let them import each other): a
    renderer importing a level, or a level a renderer, breaks it, and so does a bottom room
    importing its neighbour."""
    assert not any(":" in line for line in _layers()["layers"])
    before = violations(_layers(), graph)
    graph.add_import(importer=importer, imported=imported)
    assert (importer, imported) in violations(_layers(), graph) - before


def cycle_breakers(graph) -> dict:
    """package -> the imports import-linter would cut to break each cycle between its children
    (the acyclic-siblings contract's check; empty when kept)."""
    contract = _contract(CYCLES)
    options = {k: v for k, v in contract.items() if k not in ("name", "type")}
    check = AcyclicSiblingsContract(name=contract["name"], session_options={"root_packages": _root_packages()},
                                    contract_options=options).check(copy.deepcopy(graph), verbose=False)
    assert check.kept == (not check.metadata["cycle_breakers_by_package"])
    return check.metadata["cycle_breakers_by_package"]


def test_a_cycle_between_sibling_modules_is_caught(graph):
    """Inside a room, where the layers do not look: io's MIDI module imports the atomic writer;
    the writer importing the MIDI module back closes a cycle, and the contract breaks on it."""
    assert cycle_breakers(graph) == {}
    assert "composer.io.atomic" in graph.find_modules_directly_imported_by("composer.io.midi")
    graph.add_import(importer="composer.io.atomic", imported="composer.io.midi")
    assert "composer.io" in cycle_breakers(graph)


def test_the_tasks_sit_above_levels_and_training(graph):
    layers = [line.split(" | ") for line in _layers()["layers"]]
    row = {name: i for i, line in enumerate(layers) for name in line}
    assert row["composer.tasks"] < row["composer.levels"] < row["composer.training"] < row["composer.data"]
    # and the registry's imports of the tasks are plain ones, which the linter sees
    registry = graph.find_modules_directly_imported_by("composer.tasks.registry")
    from composer.tasks.registry import TASK_NAMES
    assert {f"composer.tasks.{name}" for name in TASK_NAMES} <= registry


def test_rendering_reaches_training_only_through_the_named_trainer(graph):
    contract = _contract(RENDERING)
    assert contract["source_modules"] == ["composer.render"]
    assert violations(contract, graph) == set()
    assert rendering_leaks(graph, contract) == []


def test_a_new_renderer_that_imports_training_is_caught(graph):
    contract = _contract(RENDERING)
    graph.add_module("composer.render.new_synth")
    graph.add_import(importer="composer.render.new_synth", imported="composer.training.loop")
    assert ("composer.render.new_synth", "composer.training.loop") in violations(contract, graph)
    # a renderer that reaches training through the trainer passes the linter (its import is
    # ignored by name), so the leak check catches it
    graph.add_import(importer="composer.render.mix", imported="composer.render.ddsp.train")
    leaks = set(rendering_leaks(graph, contract))
    assert ("composer.render.mix", "composer.training") in leaks
    assert not any(module.endswith(".train") for module, _ in leaks)   # the trainer may, by name


def test_the_cascade_loads_no_evaluation_libraries():
    """Composing never loads muspy (and through it pypianoroll, matplotlib and music21): they
    are the metrics' readers, and importing them cost the 64-bar bench 130 MB of peak memory
    and seconds of start-up when a level took one constant from the metrics package."""
    import subprocess
    import sys
    code = ("import sys, composer.pipeline; "
            "print(sorted(m for m in ('muspy', 'pypianoroll', 'matplotlib', 'music21') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_help_loads_no_torch():
    """`composer --help` and every command's --help answer without torch: the arrange command's
    defaults came from composer.harmonise, which imported torch for one type hint, so any --help
    took 1.2 s and 226 MB instead of 0.14 s and 35 MB."""
    import subprocess
    import sys
    from composer.cli import build_parser
    commands = sorted(build_parser()._subparsers._group_actions[0].choices)
    assert "arrange" in commands and "generate" in commands
    code = ("import sys, contextlib, io\n"
            "from composer.cli import main\n"
            "for argv in [['--help']] + [[c, '--help'] for c in sys.argv[1:]]:\n"
            "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            "        main(argv)\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, *commands], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_benchmarks_never_import_a_face(graph):
    """The whole benchmarks package, so a new benchmark is covered the day it is written; the
    faces are the layers contract's top two lines, so a new face is forbidden them too."""
    contract = _contract(BENCHMARKS)
    assert _root_packages() == ["composer", "benchmarks"]
    assert contract["source_modules"] == ["benchmarks"]
    faces = {name for line in _layers()["layers"][:2] for name in line.split(" | ")}
    assert set(contract["forbidden_modules"]) == faces
    assert "ignore_imports" not in contract
    assert {"benchmarks.bench_pipeline", "benchmarks.quality_notes"} <= graph.find_descendants("benchmarks")
    assert violations(contract, graph) == set()
    assert violations(_contract(NOT_BENCHMARKS), graph) == set()


@pytest.mark.parametrize("imported", ["composer.app.actions", "composer.commands.generate", "composer.cli"])
def test_a_benchmark_that_imports_a_face_is_caught(graph, imported):
    graph.add_module("benchmarks.bench_new")
    graph.add_import(importer="benchmarks.bench_new", imported=imported)
    assert ("benchmarks.bench_new", imported) in violations(_contract(BENCHMARKS), graph)


def test_a_benchmark_that_reaches_a_face_through_a_chain_is_caught(graph):
    """Indirect imports count: a benchmark's helper module that imports the app breaks it too."""
    graph.add_import(importer="benchmarks.common", imported="composer.app.actions")
    assert ("benchmarks.common", "composer.app.actions") in violations(_contract(BENCHMARKS), graph)


def test_composer_that_imports_a_benchmark_is_caught(graph):
    graph.add_import(importer="composer.evaluation", imported="benchmarks.music_targets")
    assert ("composer.evaluation", "benchmarks.music_targets") in violations(_contract(NOT_BENCHMARKS), graph)


def test_the_app_script_imports_only_the_app_and_what_it_hands_it():
    source = (ROOT / "app.py").read_text()
    imports = app_script_imports(source)
    assert "composer.pipeline" in imports and any(name.startswith("composer.app.") for name in imports)
    assert app_script_breaks(source) == []


@pytest.mark.parametrize("bad, caught", [
    ("    from composer.commands.generate import run\n", "composer.commands.generate"),
    ("    from composer import training\n", "composer.training"),
    ("    import composer.tasks.form\n", "composer.tasks.form"),
])
def test_an_app_script_that_imports_outside_its_rule_is_caught(tmp_path, bad, caught):
    """A copy of app.py with one bad import added inside main(), where its imports are."""
    lines = (ROOT / "app.py").read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("def main("))
    copy_path = tmp_path / "app.py"
    copy_path.write_text("".join(lines[:at + 1] + [bad] + lines[at + 1:]))
    assert app_script_breaks(copy_path.read_text()) == [caught]
