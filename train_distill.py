#!/usr/bin/env python
"""Encoder-level knowledge distillation of EffNet-Trm (Xu et al., Interspeech 2024).

    accelerate launch train_distill.py --config configs/audiocaps_contrastive_audio_only.yaml
    python train_distill.py --config configs/demo_quick.yaml training.epochs=3 output_dir=outputs/try
    python train_distill.py --config configs/demo_quick.yaml --resume latest

Overrides are `section.key=value` (YAML values). See effnet_trm/distill/config.py for every field.
"""

from __future__ import annotations

import argparse
import logging
import sys

from effnet_trm.distill.config import load_config
from effnet_trm.distill.trainer import Trainer


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="YAML config (configs/*.yaml)")
    parser.add_argument("--resume", default=None, help="'latest' or a checkpoint folder to continue from")
    parser.add_argument("--push-to-hub", default=None, metavar="REPO_ID", help="upload the final model folder")
    parser.add_argument("overrides", nargs="*", help="section.key=value overrides")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    overrides = list(args.overrides) + ([f"push_to_hub={args.push_to_hub}"] if args.push_to_hub else [])
    config = load_config(args.config, overrides)
    model_dir = Trainer(config).train(resume=args.resume)
    if model_dir is not None:
        print(f"model folder: {model_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
