"""`effnet-trm evaluate` (and `python evaluate_captions.py`): score a model or a predictions file.

effnet-trm evaluate --model outputs/demo/student --dataset data/demo_quick --split test
effnet-trm evaluate --predictions preds.jsonl --dataset data/demo_quick --split test
"""

from __future__ import annotations

import argparse
import sys

from .metrics import ALL_METRICS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="model folder or Hub id to caption the split with")
    source.add_argument("--predictions", help="CSV or JSON lines with audio_id and prediction")
    parser.add_argument("--dataset", required=True, help="DatasetDict folder (save_to_disk)")
    parser.add_argument("--split", default="test")
    parser.add_argument(
        "--out", default=None, help="folder for summary.json and per_clip.csv (default: outputs/eval/<split>)"
    )
    parser.add_argument("--metrics", nargs="+", default=list(ALL_METRICS), choices=ALL_METRICS)
    parser.add_argument("--num-beams", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--limit", type=int, default=None, help="only the first N clips")
    parser.add_argument("--device", default=None)


def run(args: argparse.Namespace) -> int:
    from ..inference import Captioner, ModelNotFoundError
    from .runner import caption_split, evaluate_split, format_table, load_split, read_predictions, write_report

    rows = load_split(args.dataset, args.split, args.limit)
    failures: dict[str, str] = {}  # clips that could not be captioned (scored as empty captions)
    if args.model:
        try:
            captioner = Captioner.from_pretrained(args.model, device=args.device)
        except ModelNotFoundError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        predictions = caption_split(
            captioner, rows, batch_size=args.batch_size, failures=failures, num_beams=args.num_beams
        )
    else:
        predictions = read_predictions(args.predictions)
    evaluation = evaluate_split(rows, predictions, metrics=args.metrics)
    out = args.out or f"outputs/eval/{args.split}"
    summary, per_clip = write_report(
        evaluation,
        out,
        extra={
            "model": args.model,
            "predictions": args.predictions,
            "dataset": args.dataset,
            "split": args.split,
            "clips": len(rows),
            "num_beams": args.num_beams,
            "failed_clips": failures,
        },
    )
    print(format_table(evaluation.scores))
    print(f"\n{len(rows)} clips; wrote {summary} and {per_clip}")
    if failures:
        print(
            f"{len(failures)} clips could not be captioned (scored as empty captions; listed in {summary}):",
            file=sys.stderr,
        )
        for audio_id, error in failures.items():
            print(f"{audio_id}\terror: {error}", file=sys.stderr)
    return 1 if failures else 0


def add_evaluate_subcommand(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="score a model or a predictions file on a dataset split")
    add_arguments(parser)
    parser.set_defaults(handler=run)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))
