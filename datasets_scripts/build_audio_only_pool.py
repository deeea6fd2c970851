#!/usr/bin/env python
"""Sample an audio-only pool (AudioSet for AudioCaps, Freesound for Clotho) from a stream into a
DatasetDict with one split, `audio_only`, ready for the teacher cache and distillation.

    python datasets_scripts/build_audio_only_pool.py --folder /data/audioset_wavs \
        --exclude-dataset data/audiocaps --count 50000 --out data/audioset_pool
    python datasets_scripts/build_audio_only_pool.py --hub ORG/NAME --exclude-dataset data/clotho \
        --out data/freesound_pool

Every clip of the target dataset's validation and test splits is excluded (by audio_id), clips over
300 s are left out, each sample is a random 10 s crop (paper, section 3.1); unreadable files are
skipped and counted.
"""

from __future__ import annotations

import argparse
import functools
import sys
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from effnet_trm.data.io import encode_flac, rows_to_dataset, save_dataset  # noqa: E402
from effnet_trm.data.pools import audio_only_pool, hub_items, local_items  # noqa: E402

POOL_RATE = 32000  # the teacher's rate; the student pipeline resamples once


def excluded_ids(dataset_dir: str | None) -> set[str]:
    if not dataset_dir:
        return set()
    from datasets import load_from_disk

    corpus = load_from_disk(dataset_dir)
    ids = {a for split in ("validation", "test") if split in corpus for a in corpus[split]["audio_id"]}
    return ids | {Path(a).stem for a in ids}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--folder", help="a folder of audio files (ids = file stems)")
    source.add_argument("--hub", help="a Hub dataset id, streamed")
    parser.add_argument("--hub-split", default="train")
    parser.add_argument("--exclude-dataset", help="the target dataset (its validation/test ids are excluded)")
    parser.add_argument("--count", type=int, default=None, help="stop after this many crops")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    items = (
        functools.partial(local_items, args.folder)
        if args.folder
        else functools.partial(hub_items, args.hub, args.hub_split)
    )
    pool, stats = audio_only_pool(items, excluded_ids(args.exclude_dataset), sampling_rate=POOL_RATE, seed=args.seed)
    rows = []
    for sample in islice(pool, args.count):
        audio = {"bytes": encode_flac(sample["waveform"], POOL_RATE), "path": f"{sample['audio_id']}.flac"}
        rows.append(
            {
                "audio": audio,
                "captions": [],
                "audio_id": sample["audio_id"],
                "classes": [],
                "source": args.folder or f"hub:{args.hub}",
                "license": "",
            }
        )
    from datasets import DatasetDict

    save_dataset(DatasetDict({"audio_only": rows_to_dataset(rows)}), args.out)
    print(f"{len(rows)} clips -> {args.out}; {stats.summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
