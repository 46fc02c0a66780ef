"""Speed and quality benchmarks; `make bench` runs every ``bench_*.py`` here.

Each module exposes ``main() -> None`` that prints a table of medians over several
runs (with a ratio against the peer where there is one) and writes JSON to
``benchmarks/results/<name>.json``.
"""
