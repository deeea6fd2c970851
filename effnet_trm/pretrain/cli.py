"""`python pretrain_encoder.py`: encoder pretraining by distillation from YAMNet (see `trainer`).

    # any unlabelled data in the project schema ("folder" or "folder:split", train side only)
    python pretrain_encoder.py --encoder effnet_b2 --data data/audiocaps:train data/audioset_pool \\
        --out outputs/pretrained/effnet_b2 --steps 20000 --batch-size 64
    # remake the committed demo encoders (pretrained/) from the demo corpus's train side
    python pretrain_encoder.py --demo
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .trainer import RECORD_FILE, PretrainConfig, pretrain_encoder

#: The committed demo encoders and how they are made (`--demo`): the quick corpus's train and
#: audio_only splits plus a pool of clips composed from the same train-side recordings.
DEMO_CORPUS = "data/demo_quick"
DEMO_POOL = "data/demo_pretrain_pool"
DEMO_POOL_CLIPS = 600
DEMO_OUT = Path("pretrained")
DEMO_RUNS = {
    "htsat_demo": {"steps": 400, "batch_size": 16, "lr": 1e-3, "eval_every": 100, "crop_patches": None},
    "effnet_b2": {"steps": 600, "batch_size": 32, "lr": 2e-3, "crop_patches": 1, "eval_every": 150},
}


def demo_data(corpus: str = DEMO_CORPUS, pool: str = DEMO_POOL, pool_clips: int = DEMO_POOL_CLIPS) -> list[str]:
    """Build the demo corpus and the pretraining pool if missing; the pretraining data specs."""
    from ..data.demo_corpus import build_demo_corpus, build_pretraining_pool

    if not (Path(corpus) / "dataset_dict.json").exists():
        build_demo_corpus(corpus, preset="quick")
    if not (Path(pool) / "dataset_info.json").exists():
        build_pretraining_pool(pool, pool_clips)
    return [f"{corpus}:train", f"{corpus}:audio_only", pool]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", action="store_true", help="remake the committed demo encoders in pretrained/")
    parser.add_argument("--encoder", choices=["effnet_b2", "htsat_demo"], default="effnet_b2")
    parser.add_argument("--data", nargs="+", help="unlabelled clips: folder or folder:split (train side only)")
    parser.add_argument("--out", help="output folder (encoder.safetensors + pretraining.json)")
    for name, default in (
        ("steps", None),
        ("batch-size", None),
        ("lr", None),
        ("crop-patches", None),
        ("heldout-clips", None),
        ("eval-every", None),
        ("seed", None),
    ):
        parser.add_argument(f"--{name}", type=float if name == "lr" else int, default=default)
    args = parser.parse_args(argv)
    overrides = {
        key: value
        for key, value in vars(args).items()
        if key in PretrainConfig.__dataclass_fields__ and key not in ("encoder", "data") and value is not None
    }
    if args.demo:
        data = demo_data()
        for encoder, settings in DEMO_RUNS.items():
            config = PretrainConfig(encoder=encoder, data=data, **{**settings, **overrides})
            out = pretrain_encoder(config, DEMO_OUT / f"{encoder}_yamnet")
            print(json.dumps(json.loads((out / RECORD_FILE).read_text())["history"][-1]), flush=True)
        return 0
    if not args.data or not args.out:
        parser.error("--data and --out are required (or --demo)")
    out = pretrain_encoder(PretrainConfig(encoder=args.encoder, data=args.data, **overrides), args.out)
    print(f"pretrained encoder: {out}   history: {json.loads((out / RECORD_FILE).read_text())['history']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
