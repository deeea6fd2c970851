#!/usr/bin/env python
"""Run a teacher once over a dataset and cache its pseudo-captions and clip embeddings.

    python datasets_scripts/cache_teacher.py --teacher outputs/demo/teacher --dataset data/demo_quick \
        --splits train audio_only validation --out outputs/demo/teacher_cache

Interrupt it at any time: running it again completes the cache without recomputing anything.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from effnet_trm.teachers.cache import build_teacher_cache  # noqa: E402
from effnet_trm.teachers.htsat_bart import HTSATBartTeacher  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", required=True, help="teacher folder (teacher.pt in WavCaps layout + tokenizer)")
    parser.add_argument("--dataset", required=True, help="DatasetDict folder")
    parser.add_argument("--splits", nargs="+", default=["train", "audio_only"])
    parser.add_argument("--out", required=True)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument(
        "--crop-seconds", type=float, default=10.0, help="crop length for clips over the teacher's window"
    )
    parser.add_argument("--num-beams", type=int, default=3, help="beams; every beam is kept, with its score")
    parser.add_argument(
        "--num-samples", type=int, default=0, help="sampled captions to keep per clip as well (for n-best sequence KD)"
    )
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    teacher = HTSATBartTeacher.from_pretrained(args.teacher, device=args.device)
    summary = build_teacher_cache(
        teacher,
        args.dataset,
        args.out,
        args.splits,
        args.batch_size,
        args.crop_seconds,
        args.num_beams,
        args.num_samples,
    )
    print(f"computed {summary['computed']}, reused {summary['reused']}, failed {summary['failed']} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
