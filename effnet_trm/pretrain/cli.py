"""`python pretrain_encoder.py`: encoder pretraining by distillation from YAMNet (see `trainer`).

    # any unlabelled data in the project schema ("folder" or "folder:split", train side only)
    python pretrain_encoder.py --encoder effnet_b2 --data data/audiocaps:train data/audioset_pool \\
        --out outputs/pretrained/effnet_b2 --steps 20000 --batch-size 64
    # remake the committed demo encoders (pretrained/) from the demo corpus's train side
    python pretrain_encoder.py --demo                      # both
    python pretrain_encoder.py --demo --encoder effnet_b2  # the student's only
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .trainer import RECORD_FILE, PretrainConfig, pretrain_encoder

#: The committed demo encoders and how they are made (`--demo`). The demo teacher's HTSAT takes whole
#: 10 s clips: the quick corpus's train and audio_only splits plus a pool of clips composed from the
#: same train-side recordings. The student's EfficientNet-B2 takes one-patch crops, so it hears the
#: train-side recordings as they are, plus uncaptioned recordings of every package
#: (`pretraining_recordings`): a crop of a composed clip mostly holds its silent canvas, and on the
#: held-out-source benchmark an encoder distilled this way raised the student's mean CIDEr-D from
#: 0.136 to 0.166 (docs/unseen-sources.md).
DEMO_CORPUS = "data/demo_quick"
DEMO_POOL = "data/demo_pretrain_pool"
DEMO_POOL_CLIPS = 600
DEMO_RECORDINGS_POOL = "data/demo_recordings_pool"
DEMO_OUT = Path("pretrained")
DEMO_RUNS = {
    "htsat_demo": {"steps": 400, "batch_size": 16, "lr": 1e-3, "eval_every": 100, "crop_patches": None},
    # 1800 steps: on a package it never heard (benchmarks/encoder_transfer.py, scorched3d-data), 3x the
    # steps raised its 1-NN class accuracy from 11 to 25 of 57 recordings (YAMNet's own embedding: 46)
    "effnet_b2": {"steps": 1800, "batch_size": 32, "lr": 2e-3, "crop_patches": 1, "eval_every": 450},
}


def demo_data(encoder: str) -> list[str]:
    """`encoder`'s pretraining data specs for `--demo`, built first where missing (see `DEMO_RUNS`)."""
    from ..data.demo_corpus import (
        build_demo_corpus,
        build_pretraining_pool,
        pretraining_recordings,
        save_recordings_pool,
    )
    from ..data.sources import collect_recordings

    if encoder == "effnet_b2":
        if not (Path(DEMO_RECORDINGS_POOL) / "dataset_info.json").exists():
            captioned, uncaptioned = collect_recordings()[0], collect_recordings(uncaptioned=True)[0]
            save_recordings_pool(DEMO_RECORDINGS_POOL, pretraining_recordings(captioned, uncaptioned))
        return [DEMO_RECORDINGS_POOL]
    if not (Path(DEMO_CORPUS) / "dataset_dict.json").exists():
        build_demo_corpus(DEMO_CORPUS, preset="quick")
    if not (Path(DEMO_POOL) / "dataset_info.json").exists():
        build_pretraining_pool(DEMO_POOL, DEMO_POOL_CLIPS)
    return [f"{DEMO_CORPUS}:train", f"{DEMO_CORPUS}:audio_only", DEMO_POOL]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", action="store_true", help="remake the committed demo encoders in pretrained/")
    parser.add_argument(
        "--encoder", choices=list(DEMO_RUNS), help="which encoder (default effnet_b2; with --demo: only this one)"
    )
    parser.add_argument("--data", nargs="+", help="unlabelled clips: folder or folder:split (train side only)")
    parser.add_argument("--out", help="output folder (encoder.safetensors + pretraining.json)")
    for name in ("steps", "batch-size", "crop-patches", "heldout-clips", "eval-every", "seed"):
        parser.add_argument(f"--{name}", type=int)
    for name in ("lr", "mix-probability", "tilt", "reverb-probability", "gain-db"):
        parser.add_argument(f"--{name}", type=float, help="see PretrainConfig" if name != "lr" else None)
    args = parser.parse_args(argv)
    overrides = {
        key: value
        for key, value in vars(args).items()
        if key in PretrainConfig.__dataclass_fields__ and key not in ("encoder", "data") and value is not None
    }
    if args.demo:
        for encoder, settings in DEMO_RUNS.items():
            if args.encoder not in (None, encoder):
                continue
            config = PretrainConfig(encoder=encoder, data=demo_data(encoder), **{**settings, **overrides})
            out = pretrain_encoder(config, DEMO_OUT / f"{encoder}_yamnet")
            print(json.dumps(json.loads((out / RECORD_FILE).read_text())["history"][-1]), flush=True)
        return 0
    if not args.data or not args.out:
        parser.error("--data and --out are required (or --demo)")
    config = PretrainConfig(encoder=args.encoder or "effnet_b2", data=args.data, **overrides)
    out = pretrain_encoder(config, args.out)
    print(f"pretrained encoder: {out}   history: {json.loads((out / RECORD_FILE).read_text())['history']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
