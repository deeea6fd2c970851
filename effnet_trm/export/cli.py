"""`effnet-trm export`: write a deployment export of a model folder.

effnet-trm export --model outputs/demo/student --out outputs/demo/student-onnx --format onnx --quantize int8
effnet-trm caption clip.wav --model outputs/demo/student-onnx
"""

from __future__ import annotations

import argparse


def add_export_subcommand(subparsers) -> None:
    parser = subparsers.add_parser("export", help="export a model for deployment (ONNX Runtime, int8)")
    parser.add_argument("--model", default=None, help="model folder or Hub id (default: the demo student)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--format", default="onnx", choices=["onnx"], help="export format (onnx)")
    parser.add_argument(
        "--quantize",
        default=None,
        choices=["int8"],
        help="also write an int8 decoder graph (block-wise int8 weights) and use it by default",
    )
    parser.add_argument("--opset", type=int, default=17)
    parser.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from .onnx import export_onnx

    out = export_onnx(args.model, args.out, quantize=args.quantize, opset=args.opset)
    print(
        f"wrote an ONNX export{' (int8)' if args.quantize else ''} to {out}; "
        f"caption with: effnet-trm caption FILE --model {out}"
    )
    return 0
