"""Launch the composer app: `make app` or `python app.py [--models DIR] [--port N]`."""
import argparse
import logging
import os
import tempfile
from pathlib import Path

# Gradio phones home and writes to the system temp folder unless told otherwise.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_TEMP_DIR", str(Path(tempfile.gettempdir()) / "composer-gradio"))


def main() -> None:
    parser = argparse.ArgumentParser(description="composer web app")
    parser.add_argument("--models", default=None, help="folder with form/, chords/, melody/, notes/ "
                                                       "and drums/ (default: the shipped models)")
    # Inside Gradio's cache by default: Gradio serves a file from its cache as it is, and
    # copies any other file there first, so outputs kept elsewhere were stored twice.
    parser.add_argument("--out", default=str(Path(os.environ["GRADIO_TEMP_DIR"]) / "sessions"),
                        help="root of the per-session output folders (default: GRADIO_TEMP_DIR/sessions; "
                             "a folder outside Gradio's cache holds a second copy of every file)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--concurrency", type=int, default=2, help="jobs run at once (default 2)")
    parser.add_argument("--queue-size", type=int, default=32, help="jobs waiting at most (default 32)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads shared by the running jobs (default 1: with two jobs at "
                             "once, each already keeps a core busy; more threads only spin against "
                             "each other)")
    args = parser.parse_args()
    # Expected errors are one line each (composer.app); Gradio's own access log stays quiet.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    import warnings

    # A renderer's warning (notes moved into an instrument's range) is one log line.
    warnings.showwarning = lambda message, category, *rest, **kw: logging.getLogger("composer.app").warning(
        "%s", message)

    from composer.app.memory import tune_malloc

    tune_malloc()  # before the models load: their buffers too go to mmap and return on free
    from composer.app.actions import warm_up
    from composer.app.session import AppLimits
    from composer.app.ui import build_ui, launch_options
    from composer.pipeline import Composer
    from composer.render.ddsp.timbre import installed_timbres

    limits = AppLimits(concurrency=args.concurrency, queue_size=args.queue_size)
    composer = Composer.from_pretrained(args.models)
    import torch

    torch.set_num_threads(max(1, args.threads))  # after from_pretrained, which sets its own
    app = build_ui(composer, args.out, installed_timbres(), limits)
    warm_up(app.composer_context)
    # No allowed_paths: the output folders are not served as they are; Gradio serves the
    # files it is handed from its own cache, under unguessable names.
    app.launch(server_name=args.host, server_port=args.port, **launch_options(limits))


if __name__ == "__main__":
    main()
