#!/usr/bin/env python
"""Caption agreement of the inference variants (fast path, int8, ONNX) with the fp32 PyTorch model.

    python benchmarks/export_agreement.py --model outputs/demo/student --dataset data/demo_quick --split test
    python benchmarks/export_agreement.py --held-out 0          # the split only

Exports the model (fp32 and int8 graphs) into a temporary folder, captions with beam 3 and at most 20
words through PyTorch `generate` (transformers), PyTorch with the fast search of `effnet_trm.decoding`
on the `effnet_trm.optimize` copy (fp32, `quantize="int8"` and `quantize="fp16"`), ONNX Runtime fp32 and ONNX Runtime
int8, and prints per variant the share of captions identical to `generate`'s and CIDEr-D against the
references. Two sets of clips: the split, and `--held-out` new clips composed from the demo corpus's
validation and test recordings (`build_held_out_clips`: sounds no model was trained on, in mixtures no
model was selected on).
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


def clip_sets(dataset: str, split: str, held_out: int) -> dict:
    """{name: (16 kHz waveforms, references)} for the split and, if asked, the held-out clips."""
    import datasets

    from effnet_trm.audio import load_audio

    sets = {f"{split} split": datasets.load_from_disk(dataset)[split]}
    if held_out:
        from effnet_trm.data.demo_corpus import build_held_out_clips

        sets[f"{held_out} held-out clips"] = build_held_out_clips(held_out)
    return {
        name: ([load_audio(io.BytesIO(audio["bytes"])) for audio in rows["audio"]], rows["captions"])
        for name, rows in sets.items()
    }


def captioners(model: str, threads: int) -> dict:
    from effnet_trm.export.onnx import OnnxCaptioner, export_onnx
    from effnet_trm.inference import Captioner

    export_dir = Path(tempfile.mkdtemp(prefix="effnet-trm-onnx-"))
    export_onnx(model, export_dir, quantize="int8")
    return {
        "pytorch generate": Captioner.from_pretrained(model, fast_search=False),
        "pytorch fast": Captioner.from_pretrained(model),
        "pytorch fast int8": Captioner.from_pretrained(model, quantize="int8"),
        "pytorch fast fp16": Captioner.from_pretrained(model, quantize="fp16"),
        "onnx fp32": OnnxCaptioner(export_dir, threads=threads, variant="fp32"),
        "onnx int8": OnnxCaptioner(export_dir, threads=threads),
    }


def agreement(captions: dict[str, list[str]], references) -> list[dict]:
    from effnet_trm.evaluation.metrics import compute_caption_metrics

    baseline = captions["pytorch generate"]
    rows = []
    for name, texts in captions.items():
        cider = compute_caption_metrics(texts, references, metrics=["cider_d"]).corpus["cider_d"]
        identical = sum(a == b for a, b in zip(texts, baseline))
        rows.append(
            {
                "variant": name,
                "clips": len(texts),
                "identical": identical,
                "identical_to_pytorch": identical / len(baseline),
                "distinct_captions": len(set(texts)),
                "cider_d": cider,
                "cider_d_difference": cider - rows[0]["cider_d"] if rows else 0.0,
            }
        )
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="outputs/demo/student")
    parser.add_argument("--dataset", default="data/demo_quick")
    parser.add_argument("--split", default="test")
    parser.add_argument("--held-out", type=int, default=200, help="new clips of held-out recordings (0: none)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default=None, help="also write the result as JSON")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    sets = clip_sets(args.dataset, args.split, args.held_out)
    variants = captioners(args.model, args.threads)
    report = {}
    for set_name, (waves, references) in sets.items():
        captions = {
            name: captioner.caption(waves, num_beams=3, max_new_tokens=20) for name, captioner in variants.items()
        }
        report[set_name] = agreement(captions, references)
    print(f"{args.model}, beam 3, <= 20 words; identical = the same caption as PyTorch generate's")
    for set_name, rows in report.items():
        print(
            f"\n{set_name}\n{'variant':<18} {'clips':>5} {'identical':>16} {'distinct':>8} {'CIDEr-D':>8} {'diff':>8}"
        )
        for row in rows:
            print(
                f"{row['variant']:<18} {row['clips']:>5} {row['identical']:>6} ({row['identical_to_pytorch']:>6.1%})"
                f" {row['distinct_captions']:>8} {row['cider_d']:>8.3f} {row['cider_d_difference']:>+8.3f}"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
