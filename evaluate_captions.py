#!/usr/bin/env python
"""Score a captioning model (folder or Hub id) or a predictions file on a dataset split.

    python evaluate_captions.py --model outputs/demo/student --dataset data/demo_quick --split test

Same as `effnet-trm evaluate`; see `effnet_trm/evaluation/`.
"""

import sys

from effnet_trm.evaluation.cli import main

if __name__ == "__main__":
    sys.exit(main())
