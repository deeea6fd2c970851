#!/usr/bin/env python
"""Convert a released EffNet-Trm checkpoint (wsntxxn/AudioCaption) into a model folder of this package.

    python convert_reference_checkpoint.py wsntxxn/effb2-trm-audiocaps-captioning outputs/effb2-audiocaps \
        --tokenizer wsntxxn/audiocaps-simple-tokenizer
    python convert_reference_checkpoint.py experiments/.../swa.pth outputs/my-student   # a training checkpoint

The result loads with AutoModel.from_pretrained(OUT, trust_remote_code=True). The KD heads the
released files carry are dropped and listed; any tensor that does not map is an error. The
checkpoint's positional table (Xavier noise in the authors' models) is kept as it is; a training
checkpoint, which has none, gets zeros (the report says so). The folder decodes with the authors'
beam rule (generation config `beam_rule="reference"`).
"""

from __future__ import annotations

import argparse
import sys

from effnet_trm.conversion.reference import convert


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="Hub id, folder (config.json + weights) or training checkpoint file")
    parser.add_argument("out", help="output model folder")
    parser.add_argument("--tokenizer", default=None, help="Hub id or folder of the word tokenizer (when SRC has none)")
    args = parser.parse_args(argv)
    report = convert(args.source, args.out, args.tokenizer)
    print(report.summary())
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
