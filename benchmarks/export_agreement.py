#!/usr/bin/env python
"""Caption agreement of the ONNX exports with the fp32 PyTorch model on a data set split.

    python benchmarks/export_agreement.py --model outputs/demo/student --dataset data/demo_quick --split test

Exports the model (fp32 and int8 graphs) into a temporary folder, captions the split with beam 3 and
at most 20 words through PyTorch `generate` (transformers), PyTorch with the fast search of
`effnet_trm.decoding` on the `effnet_trm.optimize` copy (fp32, and with int8 decoder linears), ONNX Runtime
fp32 and ONNX Runtime int8, and prints per variant the share of
captions identical to `generate`'s and CIDEr-D against the references.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="outputs/demo/student")
    parser.add_argument("--dataset", default="data/demo_quick")
    parser.add_argument("--split", default="test")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default=None, help="also write the result as JSON")
    args = parser.parse_args(argv)

    import datasets
    import torch

    from effnet_trm.audio import load_audio
    from effnet_trm.evaluation.metrics import compute_caption_metrics
    from effnet_trm.export.onnx import OnnxCaptioner, export_onnx
    from effnet_trm.inference import Captioner

    torch.set_num_threads(args.threads)
    split = datasets.load_from_disk(args.dataset)[args.split]
    waves = [load_audio(io.BytesIO(audio["bytes"])) for audio in split["audio"]]
    references = split["captions"]
    export_dir = Path(tempfile.mkdtemp(prefix="effnet-trm-onnx-"))
    export_onnx(args.model, export_dir, quantize="int8")
    captioners = {
        "pytorch generate": Captioner.from_pretrained(args.model, fast_search=False),
        "pytorch fast": Captioner.from_pretrained(args.model),
        "pytorch fast int8": Captioner.from_pretrained(args.model, quantize="int8"),
        "onnx fp32": OnnxCaptioner(export_dir, threads=args.threads, variant="fp32"),
        "onnx int8": OnnxCaptioner(export_dir, threads=args.threads),
    }
    captions = {name: captioner.caption(waves, num_beams=3, max_new_tokens=20) for name, captioner in captioners.items()}
    baseline = captions["pytorch generate"]
    rows = []
    for name, texts in captions.items():
        cider = compute_caption_metrics(texts, references, metrics=["cider_d"]).corpus["cider_d"]
        identical = sum(a == b for a, b in zip(texts, baseline)) / len(baseline)
        rows.append({"variant": name, "clips": len(texts), "identical_to_pytorch": identical, "cider_d": cider})
    base_cider = rows[0]["cider_d"]
    print(f"{args.model} on {args.dataset} [{args.split}], beam 3, <= 20 words")
    print(f"{'variant':<18} {'clips':>5} {'identical':>10} {'CIDEr-D':>8} {'diff':>8}")
    for row in rows:
        row["cider_d_difference"] = row["cider_d"] - base_cider
        print(f"{row['variant']:<18} {row['clips']:>5} {row['identical_to_pytorch']:>9.1%} {row['cider_d']:>8.3f} "
              f"{row['cider_d_difference']:>+8.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
