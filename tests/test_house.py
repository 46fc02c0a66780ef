"""docs/ARCHITECTURE.md's "The house" matches the tree and the layers contract: every room of
the contract is named in a row of the house, in the contract's order (a row may hold two
adjacent lines: the face is ``__main__`` over ``cli | commands | app``), every module and
package under ``composer/`` is in the contract, and the packages the house lists file by file
list every file."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LISTED_FILE_BY_FILE = ("levels", "tasks", "app", "representation", "metrics")
"""Packages whose row of the house names each of their modules."""


def _layers() -> list[list[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contract = next(c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers")
    return [[name.strip() for name in line.split("|")] for line in contract["layers"]]


def _house_rows() -> list[str]:
    """The house's rows (a row starts at column 0 and runs to the next), each as one text."""
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    section = text.split("## The house", 1)[1]
    block = section.split("```", 2)[1]
    rows: list[str] = []
    for line in block.splitlines()[1:]:
        if line and not line[0].isspace():
            rows.append(line)
        elif line.strip() and rows:
            rows[-1] += "\n" + line
    return rows


def _names(row: str, module: str) -> bool:
    """Whether ``row`` names ``module`` (``x.py`` for a module, ``x/`` for a package)."""
    path = ROOT / Path(*module.split("."))
    token = path.name + ("/" if path.is_dir() else ".py")
    return re.search(rf"(?<![\w/.]){re.escape(token)}", row) is not None


def test_every_module_of_the_tree_is_in_the_layers_contract():
    in_contract = {name for line in _layers() for name in line}
    tree = {f"composer.{p.stem}" for p in (ROOT / "composer").glob("*.py") if p.stem != "__init__"}
    tree |= {f"composer.{p.name}" for p in (ROOT / "composer").iterdir()
             if p.is_dir() and (p / "__init__.py").exists()}
    assert tree == in_contract


def house_problems(rows: list[str], layers: list[list[str]]) -> list[str]:
    """What the house's ``rows`` get wrong about ``layers``: a line of the contract that no row
    at or below the previous line's row names whole, and a module of a package the house lists
    file by file that its row does not name."""
    problems, at = [], 0
    for line in layers:
        found = next((r for r in range(at, len(rows)) if all(_names(rows[r], m) for m in line)), None)
        if found is None:
            problems.append(f"{' | '.join(line)}: no row of the house at or below row {at} names it")
            continue
        at = found
        for module in line:
            package = module.removeprefix("composer.")
            if package in LISTED_FILE_BY_FILE:
                problems += [f"{package}/{path.name} is not in its row"
                             for path in sorted((ROOT / "composer" / package).glob("*.py"))
                             if path.stem != "__init__" and not _names(rows[found], f"{module}.{path.stem}")]
    return problems


def test_the_house_names_every_room_in_the_contracts_order():
    assert house_problems(_house_rows(), _layers()) == []


def test_the_house_check_catches_a_room_out_of_place_or_left_out():
    """Probes: the band's row moved under the options', a level's module dropped from its row."""
    rows = _house_rows()
    band = next(i for i, r in enumerate(rows) if r.startswith("band.py"))
    options = next(i for i, r in enumerate(rows) if r.startswith("options.py"))
    moved = rows[:band] + rows[band + 1:options + 1] + [rows[band]] + rows[options + 1:]
    # band found below options, so the rooms between are out of order
    assert house_problems(moved, _layers())[0].startswith("composer.representation | composer.io: no row")
    dropped = [r.replace("(line_prior.py)", "") for r in rows]
    assert house_problems(dropped, _layers()) == ["levels/line_prior.py is not in its row"]
