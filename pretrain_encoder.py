#!/usr/bin/env python
"""Encoder pretraining by distillation from YAMNet (AudioSet knowledge for the student's
EfficientNet-B2 and the demo teacher's HTSAT). See effnet_trm/pretrain/ and docs/audioset.md.

    python pretrain_encoder.py --demo                      # remake the committed demo encoders
    python pretrain_encoder.py --encoder effnet_b2 --data data/audiocaps:train --out outputs/pretrained/effb2
"""

import sys

from effnet_trm.pretrain.cli import main

if __name__ == "__main__":
    sys.exit(main())
