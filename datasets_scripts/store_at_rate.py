#!/usr/bin/env python
"""A copy of a corpus with its audio stored at the student's rate (mono FLAC), so that training does
not resample every clip at every step.

    python datasets_scripts/cache_teacher.py --teacher /models/wavcaps-htsat-bart --dataset data/audiocaps \
        --splits train --out outputs/audiocaps_teacher_cache        # the teacher hears the original (32 kHz)
    python datasets_scripts/store_at_rate.py --dataset data/audiocaps --out data/audiocaps_16k --num-proc 4
    python train_distill.py --config configs/audiocaps_contrastive.yaml data.dataset=data/audiocaps_16k

Run the teacher cache on the original first: a 16 kHz copy has lost what the 32 kHz teacher hears
above 8 kHz. The copy keeps every `audio_id` and caption, so that cache applies to it unchanged.
Decoding a 10 s clip to 16 kHz took 8.0 ms from a 44.1 kHz FLAC, 5.3 ms from 32 kHz and 2.3 ms from a
16 kHz FLAC (`python benchmarks/decode_cost.py --repeats 50`, one core; docs/data.md, "Audio at the student's rate").
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from effnet_trm.data.io import save_dataset, store_at_rate  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, help="a DatasetDict folder in the project schema")
    parser.add_argument("--out", required=True)
    parser.add_argument("--rate", type=int, default=16000, help="sampling rate to store (default: the student's)")
    parser.add_argument("--splits", nargs="+", default=None, help="default: every split")
    parser.add_argument("--num-proc", type=int, default=None, help="processes that re-encode in parallel")
    args = parser.parse_args(argv)

    from datasets import DatasetDict, load_from_disk

    if Path(args.out).resolve() == Path(args.dataset).resolve():
        parser.error("--out must differ from --dataset: the copy is written beside the original")
    corpus = load_from_disk(args.dataset)
    splits = args.splits or list(corpus)
    unknown = sorted(set(splits) - set(corpus))
    if unknown:
        parser.error(f"{args.dataset} has no split {unknown}; it has {sorted(corpus)}")
    # the re-encoded rows go to a scratch folder, not into the original's folder (map's default)
    Path(args.out).resolve().parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=Path(args.out).resolve().parent) as scratch:
        copy = DatasetDict(
            {
                split: store_at_rate(corpus[split], args.rate, args.num_proc, str(Path(scratch) / f"{split}.arrow"))
                for split in splits
            }
        )
        save_dataset(copy, args.out)
    print({split: len(rows) for split, rows in copy.items()}, f"at {args.rate} Hz in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
