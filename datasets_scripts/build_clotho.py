#!/usr/bin/env python
"""Clotho v2.1 into the project schema (train/validation/test, one row per clip with all captions).

    python datasets_scripts/build_clotho.py --root /data/clotho --out data/clotho
    python datasets_scripts/build_clotho.py --hub NAME \
        --caption-columns caption_1 caption_2 caption_3 caption_4 caption_5 --out data/clotho

Local layout: clotho_captions_{development,validation,evaluation}.csv (file_name,caption_1..caption_5)
and audio in clotho_audio_{development,validation,evaluation}/.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datasets_scripts._real import add_hub_arguments, save_hub_splits  # noqa: E402
from effnet_trm.data.io import save_dataset  # noqa: E402
from effnet_trm.data.real_datasets import build_clotho  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", help="local Clotho v2.1 folder")
    parser.add_argument("--out", required=True)
    add_hub_arguments(parser)
    args = parser.parse_args(argv)
    if args.hub:
        return save_hub_splits(args)
    corpus, report = build_clotho(args.root)
    save_dataset(corpus, args.out)
    print({split: len(rows) for split, rows in corpus.items()}, "-", report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
