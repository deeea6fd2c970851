#!/usr/bin/env python
"""AudioCaps into the project schema (train/validation/test, one row per clip with all captions).

    python datasets_scripts/build_audiocaps.py --root /data/audiocaps --out data/audiocaps
    python datasets_scripts/build_audiocaps.py --hub NAME --caption-columns caption --out data/audiocaps

Local layout: train.csv/val.csv/test.csv (audiocap_id,youtube_id,start_time,caption) and audio files
named by youtube_id (or --id-column audiocap_id) under audio/{train,val,test}/ or audio/.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datasets_scripts._real import add_hub_arguments, save_hub_splits  # noqa: E402
from effnet_trm.data.io import save_dataset  # noqa: E402
from effnet_trm.data.real_datasets import build_audiocaps  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", help="local AudioCaps folder")
    parser.add_argument("--id-column", default="youtube_id", choices=["youtube_id", "audiocap_id"])
    parser.add_argument("--out", required=True)
    add_hub_arguments(parser)
    args = parser.parse_args(argv)
    if args.hub:
        return save_hub_splits(args)
    corpus, report = build_audiocaps(args.root, args.id_column)
    save_dataset(corpus, args.out)
    print({split: len(rows) for split, rows in corpus.items()}, "-", report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
