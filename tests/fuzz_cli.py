"""The command line's fuzz run (issues 12 and 25): every subcommand, as a user runs it, on
crafted and mutated inputs, odd names, crafted model folders, a full disk and a file-size
limit.  Each case is one ``composer`` process with a time bound (a hang detector) and a
memory bound (RLIMIT_AS), and is judged the same way:

* traceback: "Traceback" on stderr, or an exit status other than 0 and 2 (a crash, a kill);
* hang: still running after :data:`HANG_S` (killed);
* not one line: exit 2 without exactly one ``composer: error:`` line, the last one;
* exit 0 on failure: exit 0 but the output missing or empty, or an error line printed;
* leftover: a temporary file (``.composer-tmp-``) after the run, or an output of a run
  that failed (generate keeps its whole MIDI file when only its audio fails).

    python tests/fuzz_cli.py                 # the whole run, counts as a Markdown table
    python tests/fuzz_cli.py --mutated 40    # fewer mutated POP909 files
    python tests/fuzz_cli.py --only crafted  # one group

Every crafted file is built by code here and in ``reliability_fixtures.py``; the mutated
files are a seeded sample of POP909 (``../shared/data``), mutated by ``test_fuzz.mutate``.
``tests/test_fuzz.py`` runs groups of it as tests.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))

from reliability_fixtures import (HANG_FILES, full_disk_available, many_tracks_midi,  # noqa: E402
                                  run_composer, save_tiny_models)

TEMP_MARK = ".composer-tmp-"
HANG_S = 120.0
"""A case still running after this long is a hang (the slowest legal case, rendering a few
minutes of a mutated song, takes about 20 s on the shared machine)."""
MEMORY_BYTES = 6 * 2**30
"""RLIMIT_AS of each case: PyTorch maps about 2 GB of address space at import."""
OUTCOMES = ("ok", "refused", "traceback", "hang", "not one line", "exit 0 on failure", "leftover")


@dataclass
class Case:
    group: str
    name: str
    argv: list[str]
    output: str | None = None          # what a successful run writes in its folder
    file_size_limit: int | None = None
    full_disk: bool = False
    env: dict[str, str] = field(default_factory=dict)
    keep_on_failure: tuple[str, ...] = ()


def judge(case: Case, rc: int | None, err: str, out: str, left: list[str]) -> str:
    if rc is None:
        return "hang"
    if "Traceback" in err or rc not in (0, 2):
        return "traceback"
    temps = [n for n in left if TEMP_MARK in n]
    errors = [line for line in err.splitlines() if line.startswith("composer: error:")]
    if rc == 2:
        if len(errors) != 1 or not err.rstrip().endswith(errors[0]):
            return "not one line"
        if temps or [n for n in left if n not in case.keep_on_failure]:
            return "leftover"
        return "refused"
    if errors:
        return "exit 0 on failure"
    if case.output is not None and case.output not in left:
        return "exit 0 on failure"
    if temps:
        return "leftover"
    return "ok"


def run_case(case: Case, root: Path, index: int) -> tuple[Case, str, str]:
    cwd = root / f"case{index:04d}"
    cwd.mkdir()
    rc, err, left = run_composer(case.argv, cwd, file_size_limit=case.file_size_limit,
                                 full_disk=case.full_disk, memory_limit=MEMORY_BYTES, timeout_s=HANG_S,
                                 env=case.env)
    outcome = judge(case, rc, err, "", left)
    if outcome == "ok" and case.output is not None and not case.full_disk:
        out = cwd / case.output
        if out.is_file() and out.stat().st_size == 0:
            outcome = "exit 0 on failure"
    if outcome in ("ok", "refused"):
        shutil.rmtree(cwd, ignore_errors=True)
    return case, outcome, err.strip().splitlines()[-1][:300] if err.strip() else f"rc {rc}"


# ---------------------------------------------------------------------- the cases
def midi_commands(src: Path, song: Path) -> list[tuple[str, list[str], str | None]]:
    """(command, argv, output) of every subcommand that reads a MIDI file."""
    s = str(src)
    return [("inspect", ["inspect", s], None),
            ("convert", ["convert", s, "o.mid"], "o.mid"),
            ("render", ["render", s, "-o", "o.wav"], "o.wav"),
            ("export", ["export", s, "-o", "o.musicxml"], "o.musicxml"),
            ("plot", ["plot", s, "-o", "o.png"], "o.png"),
            ("drums", ["drums", s, "-o", "o.mid", "--seed", "1"], "o.mid"),
            ("eval", ["eval", s, "--reference", str(song), "--json", "o.json"], "o.json")]


def crafted_files() -> dict[str, bytes]:
    from test_fuzz import CRAFTED
    # CRAFTED holds issue 25's files as builders (but the 7 MB one): all of them, built, here.
    files = {name: data for name, data in CRAFTED.items() if isinstance(data, bytes)}
    files.update({name: build() for name, build in HANG_FILES.items()})
    files["65,535 tracks"] = many_tracks_midi(65_535)
    return files


def crafted_cases(inputs: Path, song: Path) -> list[Case]:
    cases = []
    for i, (name, data) in enumerate(sorted(crafted_files().items())):
        src = inputs / f"crafted{i:02d}.mid"
        src.write_bytes(data)
        for command, argv, output in midi_commands(src, song):
            cases.append(Case("crafted files", f"{name}: {command}", argv, output))
    return cases


def mutated_cases(inputs: Path, song: Path, n: int) -> list[Case]:
    from test_fuzz import POP909, mutated_sample
    if not POP909.is_dir() or n == 0:
        return []
    cases = []
    for i, (name, data) in enumerate(mutated_sample(n, seed=25)):
        src = inputs / f"mutated{i:03d}.mid"
        src.write_bytes(data)
        for command, argv, output in midi_commands(src, song):
            cases.append(Case("mutated POP909 files", f"{name}: {command}", argv, output))
    return cases


ODD_NAMES = {
    "newline": "bad\nname",
    "tab and escape": "t\tx\x1b[31m",
    "bidi override": "abc\u202etxt",
    "60 emoji": "😀" * 60,
    "250 ASCII": "a" * 245,
    "leading dash": "-x",
    "only spaces": "   ",
}


def name_cases(inputs: Path, song: Path) -> list[Case]:
    cases = []
    writers = [("convert", lambda o: ["convert", str(song), o], ".mid"),
               ("render", lambda o: ["render", str(song), "-o", o], ".wav"),
               ("export", lambda o: ["export", str(song), "-o", o], ".musicxml"),
               ("plot", lambda o: ["plot", str(song), "-o", o], ".png"),
               ("drums", lambda o: ["drums", str(song), "-o", o, "--seed", "1"], ".mid"),
               ("eval", lambda o: ["eval", str(song), "--reference", str(song), "--json", o], ".json")]
    for label, stem in ODD_NAMES.items():
        for command, make, suffix in writers:
            name = stem + suffix
            # "-x.mid" is read as an option by argparse: it is written as ./-x.mid
            arg = f"./{name}" if name.startswith("-") else name
            cases.append(Case("odd names", f"{label}: {command} output", make(arg), name))
        missing = inputs / (stem + ".mid")
        cases.append(Case("odd names", f"{label}: inspect of a missing file", ["inspect", str(missing)]))
    for command, make, suffix in writers:
        cases.append(Case("odd names", f"trailing slash: {command}", make(f"o{suffix}/"), None))
    cases.append(Case("odd names", "--stems into /proc", ["render", str(song), "-o", "o.wav", "--stems", "/proc/stems"]))
    cases.append(Case("odd names", "--stems into /sys", ["render", str(song), "-o", "o.wav", "--stems", "/sys/stems"]))
    return cases


def disk_cases(song: Path, models: Path) -> list[Case]:
    from test_reliability import FILE_SIZE_LIMIT, WRITERS
    cases = []
    full = full_disk_available()
    for argv, output in WRITERS:
        argv = [a.format(song=song, models=models) for a in argv]
        label = " ".join(argv[:1] + argv[-2:])
        keep = ("s.mid",) if argv[0] == "generate" else ()
        cases.append(Case("full disk, ulimit -f", f"ulimit -f: {label}", argv, output,
                          file_size_limit=FILE_SIZE_LIMIT, keep_on_failure=keep))
        if full:
            cases.append(Case("full disk, ulimit -f", f"full disk: {label}", argv, output, full_disk=True,
                              keep_on_failure=keep))
    return cases


def model_cases(inputs: Path, song: Path, models: Path) -> list[Case]:
    from test_reliability import FORM_CONFIG_CASES, TIMBRE_CONFIG_CASES, _deep
    from timbre_fixtures import install_tiny_timbre
    cases = []
    changes = list(enumerate(FORM_CONFIG_CASES)) + [(len(FORM_CONFIG_CASES), (None, "nested"))]
    for i, (change, _) in changes:
        root = inputs / f"models{i:02d}"
        shutil.copytree(models, root)
        path = root / "form" / "config.json"
        config = json.loads(path.read_text())
        if change is None:
            text = json.dumps(config)
            path.write_text(text[:-1] + ', "phrase_prior": ' + _deep(100_000) + "}")
        else:
            change(config)
            path.write_text(json.dumps(config))
        argv = ["generate", "--models", str(root), "--bars", "2", "--steps", "1", "-o", "s.mid"]
        cases.append(Case("crafted model folders", f"form config {i}: generate --models", argv, "s.mid"))
        cases.append(Case("crafted model folders", f"form config {i}: COMPOSER_MODELS",
                          argv[:1] + argv[3:], "s.mid", env={"COMPOSER_MODELS": str(root)}))
    for i, (change, _) in enumerate(TIMBRE_CONFIG_CASES):
        root = inputs / f"timbres{i:02d}"
        folder = install_tiny_timbre(root)
        config = json.loads((folder / "config.json").read_text())
        change(config)
        (folder / "config.json").write_text(json.dumps(config).replace("NaN", "nan"))
        cases.append(Case("crafted model folders", f"timbre config {i}: render --timbre ddsp:PATH",
                          ["render", str(song), "-o", "o.wav", "--timbre", f"0=ddsp:{folder}"], "o.wav"))
        cases.append(Case("crafted model folders", f"timbre config {i}: timbres --dir",
                          ["timbres", "--dir", str(root)]))
    return cases


def build_cases(root: Path, groups: set[str], n_mutated: int) -> list[Case]:
    from composer.io.midi import write_midi
    from composer.score import Note, Score, TempoChange, Track
    inputs = root / "inputs"
    inputs.mkdir()
    song = inputs / "song.mid"
    write_midi(Score(tempos=(TempoChange.from_bpm(0, 240),),
                     tracks=(Track("Melody", 73, notes=tuple(Note(i * 120, 100, 60 + i % 24, 90)
                                                             for i in range(64))),)), song)
    models = save_tiny_models(inputs / "tiny_models")
    cases: list[Case] = []
    if "crafted" in groups:
        cases += crafted_cases(inputs, song)
    if "names" in groups:
        cases += name_cases(inputs, song)
    if "disk" in groups:
        cases += disk_cases(song, models)
    if "models" in groups:
        cases += model_cases(inputs, song, models)
    if "mutated" in groups:
        cases += mutated_cases(inputs, song, n_mutated)
    return cases


def _reason(line: str) -> str:
    """A refusal's words without its paths and numbers, to count refusals by kind."""
    import re
    text = re.sub(r"\S*/\S*", "PATH", line.removeprefix("composer: error: "))
    return re.sub(r"\d[\d,.]*", "N", text)[:90]


def run(groups: set[str], n_mutated: int = 60, jobs: int = 2, progress: bool = False,
        reasons_out: dict[str, int] | None = None):
    """Run the cases of ``groups``; returns {group: {outcome: count}} and the bad cases
    (and, into ``reasons_out``, how many refusals of each kind)."""
    root = Path(tempfile.mkdtemp(prefix="composer-fuzz-"))
    try:
        cases = build_cases(root, groups, n_mutated)
        counts: dict[str, dict[str, int]] = {}
        bad: list[tuple[Case, str, str]] = []
        reasons: dict[str, int] = {}
        start = time.monotonic()
        with ThreadPoolExecutor(jobs) as pool:
            for n, (case, outcome, line) in enumerate(pool.map(lambda ic: run_case(ic[1], root, ic[0]),
                                                               enumerate(cases)), 1):
                group = counts.setdefault(case.group, {o: 0 for o in OUTCOMES})
                group[outcome] += 1
                if outcome not in ("ok", "refused"):
                    bad.append((case, outcome, line))
                elif outcome == "refused":
                    reason = _reason(line)
                    reasons[reason] = reasons.get(reason, 0) + 1
                if progress:
                    print(f"\r{n}/{len(cases)} cases, {len(bad)} bad, {time.monotonic() - start:.0f} s",
                          end="", file=sys.stderr, flush=True)
        if progress:
            print(file=sys.stderr)
        if reasons_out is not None:
            reasons_out.update(reasons)
        return counts, bad
    finally:
        shutil.rmtree(root, ignore_errors=True)


def table(counts: dict[str, dict[str, int]]) -> str:
    lines = ["| cases | " + " | ".join(OUTCOMES) + " |", "|---|" + "---|" * len(OUTCOMES)]
    total = {o: 0 for o in OUTCOMES}
    for group, c in counts.items():
        lines.append(f"| {group} ({sum(c.values())}) | " + " | ".join(str(c[o]) for o in OUTCOMES) + " |")
        for o in OUTCOMES:
            total[o] += c[o]
    lines.append(f"| all ({sum(total.values())}) | " + " | ".join(str(total[o]) for o in OUTCOMES) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", choices=("crafted", "names", "disk", "models", "mutated"))
    parser.add_argument("--mutated", type=int, default=60, help="mutated POP909 files (each through 6 commands)")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    groups = set(args.only or ("crafted", "names", "disk", "models", "mutated"))
    reasons: dict[str, int] = {}
    counts, bad = run(groups, args.mutated, args.jobs, progress=True, reasons_out=reasons)
    print(table(counts))
    print("\nrefusals by kind:")
    for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
        print(f"{n:5d}  {reason}")
    for case, outcome, line in bad:
        print(f"{outcome}: {case.group}: {case.name!r}: {line}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
