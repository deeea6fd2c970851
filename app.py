#!/usr/bin/env python
"""EffNet-Trm audio captioning, as a Gradio Space (this file is the Space's app_file).

    python app.py                                   # serves outputs/demo/student (made by `make demo`)
    python app.py --model wsntxxn-converted/ --port 7860
    EFFNET_TRM_MODEL=user/effnet-trm-audiocaps python app.py

Listens on 127.0.0.1 unless --host (or $GRADIO_SERVER_NAME, as on Spaces) says otherwise; analytics off.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from effnet_trm.app.lifecycle import own_cache_folder, stop_on_sigterm  # noqa: E402
from effnet_trm.app.service import CaptionService, export_examples  # noqa: E402
from effnet_trm.app.ui import build_ui, launch  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--model", default=None, help="model folder or Hub id (default: $EFFNET_TRM_MODEL, else outputs/demo/student)"
    )
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    parser.add_argument("--examples-from", default="data/demo_quick", help="demo corpus for example clips")
    args = parser.parse_args(argv)
    stop_on_sigterm()
    service = CaptionService.load(args.model)
    examples = export_examples(args.examples_from, "outputs/app_examples")
    with own_cache_folder():  # uploads and outputs, removed when the server stops
        try:
            launch(build_ui(service, examples), args.host, args.port)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
