"""Start ``app.py`` as a user does, on a free port, for the browser and gradio_client tests
and the app benchmark; stop it after.

The server runs with the shipped models, its outputs and Gradio's cache in a temporary
folder, no network (GRADIO_ANALYTICS_ENABLED=False, HF_HUB_OFFLINE=1).
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@dataclass(frozen=True)
class RunningApp:
    url: str
    out_dir: Path
    cache_dir: Path
    log_path: Path
    pid: int

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(folder: Path, *extra: str, startup_s: float = 180.0) -> Iterator[RunningApp]:
    """``python app.py --port P --out folder/gradio/sessions`` until the block ends (then terminated).

    ``startup_s`` only bounds how long a server that never comes up is waited for; it is not
    a test of speed."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
           "GRADIO_TEMP_DIR": str(folder / "gradio"), "PYTHONUNBUFFERED": "1"}
    log_path = folder / "server.log"
    with open(log_path, "wb") as log:
        # The sessions' folders inside Gradio's cache, as app.py's default puts them.
        # COMPOSER_TEST_MODELS: another models folder (e.g. while a new level's checkpoint is
        # being trained into models/).
        models = ("--models", os.environ["COMPOSER_TEST_MODELS"]) if os.environ.get("COMPOSER_TEST_MODELS") else ()
        proc = subprocess.Popen([sys.executable, str(REPO / "app.py"), "--port", str(port),
                                 "--out", str(folder / "gradio" / "sessions"), *models, *extra],
                                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    app = RunningApp(url, folder / "gradio" / "sessions", folder / "gradio", log_path, proc.pid)
    try:
        deadline = time.monotonic() + startup_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"app.py exited with {proc.returncode}:\n{app.log()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"app.py did not answer on {url}:\n{app.log()[-3000:]}")
            time.sleep(0.5)
        yield app
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
