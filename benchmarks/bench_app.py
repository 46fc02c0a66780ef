"""The app under load: N gradio_client composes at once (default 8, everything left to the
model, with audio) against ``app.py`` on this machine, while the page is loaded again and
again, over HTTP and in chromium.

    python -m benchmarks.bench_app [--clients 8] [--no-audio] [--bars 64,128] [--no-browser]

Prints a table and writes benchmarks/results/app.json: every compose's wall time (queue
wait included), the page's load times during the run, and the server's memory: fresh (after
start, before any work), peak (VmHWM) and idle after the run (VmRSS once the last job has
returned and the server has been idle ``--idle-s`` seconds).  ``--bars 64,128`` gives the
clients songs of 64 to 128 bars (spread evenly), the issue-22 load: 2 running, the rest queued.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from benchmarks.common import print_table, write_results

# The launcher the tests use (app.py on a free port, its folders in a temporary directory).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from app_server import CHROMIUM, CHROMIUM_ARGS, running_app  # noqa: E402


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--no-audio", action="store_true")
    parser.add_argument("--bars", default=None, metavar="LO,HI",
                        help="songs of LO..HI bars, spread over the clients (default: the model chooses)")
    parser.add_argument("--no-browser", action="store_true", help="poll the page over HTTP only")
    parser.add_argument("--idle-s", type=float, default=20.0,
                        help="idle time after the run before the idle memory is read")
    args = parser.parse_args(argv if argv is not None else [])  # `python -m benchmarks`: defaults
    from gradio_client import Client

    with tempfile.TemporaryDirectory() as tmp, running_app(Path(tmp)) as app:
        results: list[tuple[float, str]] = [None] * args.clients  # type: ignore[list-item]
        errors: list[str] = []
        done = threading.Event()

        # Clients connect first (each reads the API description), then all compose at once.
        # A generous HTTP timeout: on a loaded machine the server answers late, not never.
        clients = [Client(app.url, verbose=False, download_files=str(Path(tmp) / f"c{i}"),
                          httpx_kwargs={"timeout": 120}) for i in range(args.clients)]
        fresh = rss_mb(app.pid)
        if args.bars:
            lo, hi = (int(x) for x in args.bars.split(","))
            bars = [round(lo + (hi - lo) * i / max(1, args.clients - 1)) for i in range(args.clients)]
        else:
            bars = [None] * args.clients

        def one(i: int) -> None:
            start = time.perf_counter()
            try:
                _, _, _, text = clients[i].predict(audio=not args.no_audio, bars=bars[i], api_name="/compose")
                results[i] = (time.perf_counter() - start, text)
            except Exception as err:  # noqa: BLE001 - every failure is counted and shown
                errors.append(f"client {i}: {err}")

        http_s: list[float] = []
        page_s: list[float] = []
        page_failures: list[float] = []

        def poll_http() -> None:
            while not done.is_set():
                start = time.perf_counter()
                with urllib.request.urlopen(app.url, timeout=60) as r:
                    r.read()
                http_s.append(time.perf_counter() - start)
                done.wait(1.0)

        def poll_browser() -> None:
            try:
                from playwright.sync_api import sync_playwright
            except ImportError:
                return
            if args.no_browser or not Path(CHROMIUM).exists():
                return
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                while not done.is_set():
                    page = browser.new_page()
                    start = time.perf_counter()
                    try:
                        page.goto(app.url, timeout=120_000)
                        page.wait_for_selector("#compose", timeout=120_000)  # built and usable
                        page_s.append(time.perf_counter() - start)
                    except Exception:  # noqa: BLE001 - a load over 2 minutes counts as failed
                        page_failures.append(time.perf_counter() - start)
                    page.close()
                    done.wait(2.0)
                browser.close()

        pollers = [threading.Thread(target=poll_http), threading.Thread(target=poll_browser)]
        for t in pollers:
            t.start()
        wall = time.perf_counter()
        workers = [threading.Thread(target=one, args=(i,)) for i in range(args.clients)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        wall = time.perf_counter() - wall
        done.set()
        for t in pollers:
            t.join()
        peak = peak_rss_mb(app.pid)
        time.sleep(args.idle_s)  # the server idle: what it holds between users
        idle = rss_mb(app.pid)

    ok = [r for r in results if r is not None]
    seeds = {r[1].split("Seed**")[1].split()[0] for r in ok if "Seed**" in r[1]}
    times = sorted(r[0] for r in ok)
    rows = {
        "clients": args.clients, "audio": not args.no_audio, "completed": len(ok), "errors": errors,
        "distinct_seeds": len(seeds), "wall_s": round(wall, 1),
        "compose_s": [round(t, 1) for t in times],
        "page_http_s": {"n": len(http_s), "median": round(statistics.median(http_s), 3) if http_s else None,
                        "max": round(max(http_s), 3) if http_s else None},
        "page_browser_s": {"n": len(page_s),
                           "median": round(statistics.median(page_s), 2) if page_s else None,
                           "max": round(max(page_s), 2) if page_s else None,
                           "failed_over_120_s": len(page_failures)},
        "bars": bars, "server_fresh_rss_mb": round(fresh), "server_peak_rss_mb": round(peak),
        "server_idle_rss_mb": round(idle), "load_average_1min": round(os.getloadavg()[0], 1),
    }
    print_table([
        ("composes completed", f"{len(ok)} / {args.clients} ({len(seeds)} different seeds)"),
        ("all done after", f"{wall:.1f} s"),
        ("one compose (queue wait included)", f"{times[0]:.1f} s fastest, {statistics.median(times):.1f} s "
                                              f"median, {times[-1]:.1f} s slowest" if times else "-"),
        ("page over HTTP during the run", f"median {rows['page_http_s']['median']} s, "
                                          f"max {rows['page_http_s']['max']} s ({len(http_s)} loads)"),
        ("page in chromium during the run", f"median {rows['page_browser_s']['median']} s, "
                                            f"max {rows['page_browser_s']['max']} s ({len(page_s)} loads, "
                                            f"{len(page_failures)} over 2 minutes)"),
        ("songs", f"{min(bars)}-{max(bars)} bars" if args.bars else "the model chooses the length"),
        ("server memory: fresh / peak (VmHWM) / idle after", f"{fresh:.0f} / {peak:.0f} / {idle:.0f} MB"),
        ("load average at the end (1 min)", f"{os.getloadavg()[0]:.1f}"),
    ])
    for e in errors:
        print(e)
    write_results("app", rows)


if __name__ == "__main__":
    main(sys.argv[1:])
