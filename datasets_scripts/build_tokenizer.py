#!/usr/bin/env python
"""Build the student's word vocabulary from training captions and save it as a tokenizer folder.

    python datasets_scripts/build_tokenizer.py --dataset data/demo_quick --out outputs/tokenizer
    python datasets_scripts/build_tokenizer.py --captions captions.txt --min-count 2 --out outputs/tokenizer

Only the labelled `train` split is read (never `audio_only`, `validation` or `test`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from effnet_trm.tokenization import build_word_tokenizer  # noqa: E402


def training_captions(dataset_dir: str, split: str = "train") -> list[str]:
    from datasets import load_from_disk

    dataset = load_from_disk(dataset_dir)[split].select_columns(["captions"])
    return [caption for row in dataset for caption in row["captions"]]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", help="a DatasetDict folder (save_to_disk) with a `captions` column")
    source.add_argument("--captions", help="a text file with one caption per line")
    parser.add_argument("--split", default="train", help="split to read (default: train)")
    parser.add_argument("--min-count", type=int, default=1, help="keep words seen at least this often")
    parser.add_argument("--out", required=True, help="output folder")
    args = parser.parse_args(argv)

    if args.dataset:
        captions = training_captions(args.dataset, args.split)
    else:
        captions = [
            line.strip() for line in Path(args.captions).read_text(encoding="utf-8").splitlines() if line.strip()
        ]
    tokenizer = build_word_tokenizer(captions, min_count=args.min_count)
    tokenizer.save_pretrained(args.out)
    print(f"{len(tokenizer)} tokens (4 special) from {len(captions)} captions -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
