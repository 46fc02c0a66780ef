"""Launch the composer app: `make app` or `python app.py [--models DIR] [--port N]`."""
import argparse
import os
import tempfile
from pathlib import Path

# Gradio phones home and writes to the system temp folder unless told otherwise.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_TEMP_DIR", str(Path(tempfile.gettempdir()) / "composer-gradio"))


def main() -> None:
    parser = argparse.ArgumentParser(description="composer web app")
    parser.add_argument("--models", default=str(Path(__file__).parent / "models"))
    parser.add_argument("--out", default=str(Path(__file__).parent / "out" / "app"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    args = parser.parse_args()

    from composer.app.ui import build_ui
    from composer.pipeline import Composer
    from composer.render.ddsp.timbre import installed_timbres

    app = build_ui(Composer.from_pretrained(args.models), args.out, installed_timbres())
    app.queue().launch(server_name=args.host, server_port=args.port, allowed_paths=[args.out])


if __name__ == "__main__":
    main()
