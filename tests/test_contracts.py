"""The import contracts cover new files: sampling (pipeline, chart, levels, render) reaches the
training loop and the datasets only through the training tasks that pyproject.toml names."""
from __future__ import annotations

import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _contract() -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return next(c for c in config["tool"]["importlinter"]["contracts"]
                if c["name"] == "sampling never imports training or data loading")


def _tasks(contract: dict) -> set[str]:
    return {rule.split(" -> ")[0] for rule in contract["ignore_imports"]}


def _reached(graph, module: str) -> set[str]:
    """Every module that ``module`` imports, directly or through a chain."""
    seen, todo = set(), [module]
    while todo:
        for imported in graph.find_modules_directly_imported_by(todo.pop()):
            if imported not in seen:
                seen.add(imported)
                todo.append(imported)
    return seen


def sampling_leaks(graph, contract: dict) -> list[tuple[str, str]]:
    """(sampling module, forbidden package) for every module under the contract's sources,
    other than the named tasks, with an import chain into a forbidden package: through a
    task too, which the contract's ignored imports alone would let pass."""
    tasks = _tasks(contract)
    found = []
    for source in contract["source_modules"]:
        for module in sorted(({source} | graph.find_descendants(source)) - tasks):
            reached = _reached(graph, module)
            for package in contract["forbidden_modules"]:
                if reached & ({package} | graph.find_descendants(package)):
                    found.append((module, package))
    return found


@pytest.fixture()
def graph():
    return grimp.build_graph("composer")


def test_the_contract_forbids_whole_packages(graph):
    contract = _contract()
    assert contract["source_modules"] == ["composer.pipeline", "composer.chart", "composer.levels",
                                          "composer.render"]
    # every file under levels/ and render/ is covered, the new drum level and line prior too
    covered = graph.find_descendants("composer.levels")
    assert {"composer.levels.drums", "composer.levels.line_prior", "composer.levels.melody"} <= covered
    assert sampling_leaks(graph, contract) == []


def test_a_new_sampler_that_imports_training_is_caught(graph):
    contract = _contract()
    graph.add_module("composer.levels.new_level")
    graph.add_import(importer="composer.levels.new_level", imported="composer.training.loop")
    # and a sampler that reaches the datasets through a task, past the task's ignored imports
    graph.add_import(importer="composer.levels.drums", imported="composer.levels.drum_task")
    leaks = set(sampling_leaks(graph, contract))
    assert {("composer.levels.new_level", "composer.training"), ("composer.levels.drums", "composer.data"),
            ("composer.levels.drums", "composer.training")} <= leaks
    assert ("composer.pipeline", "composer.data") in leaks            # it imports the drum level
    assert not any(module.endswith("_task") for module, _ in leaks)   # the tasks may, by name
