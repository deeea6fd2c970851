"""The `effnet-trm` command: caption files, create a model folder, and the other tools' entry points.

effnet-trm caption clip.wav other.flac --model outputs/demo/student
effnet-trm caption long_recording.ogg --segment 10 --json
effnet-trm caption *.wav --csv > captions.csv
effnet-trm init-model outputs/smoke-model
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from collections.abc import Callable, Sequence

#: Subcommands that live in other modules: name -> (module, function adding the sub-parser).
#: Imported lazily so that `effnet-trm caption` does not pay for the training stack.
EXTERNAL_SUBCOMMANDS = {
    "evaluate": ("effnet_trm.evaluation.cli", "add_evaluate_subcommand"),
    "export": ("effnet_trm.export.cli", "add_export_subcommand"),
}


def _add_generation_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("decoding")
    group.add_argument("--num-beams", type=int, default=3, help="beam size (1 = greedy); default 3")
    group.add_argument("--max-words", type=int, default=20, help="longest caption in words; default 20")
    group.add_argument("--sample", action="store_true", help="sample words instead of searching")
    group.add_argument("--temperature", type=float, default=1.0, help="sampling temperature")
    group.add_argument("--top-p", type=float, default=None, help="nucleus sampling threshold")
    group.add_argument("--num-candidates", type=int, default=1, help="captions returned per clip")


def generation_kwargs(args: argparse.Namespace) -> dict:
    """`generate()` keyword arguments from the decoding options."""
    kwargs = {
        "num_beams": 1 if args.sample else args.num_beams,
        "max_new_tokens": args.max_words,
        "do_sample": args.sample,
        "num_return_sequences": args.num_candidates,
    }
    if args.sample:
        kwargs["temperature"] = args.temperature
        if args.top_p is not None:
            kwargs["top_p"] = args.top_p
    elif args.num_candidates > args.num_beams:
        raise SystemExit(f"--num-candidates ({args.num_candidates}) cannot exceed --num-beams ({args.num_beams})")
    return kwargs


def _caption(args: argparse.Namespace) -> int:
    from .export.onnx import load_captioner  # a PyTorch model folder / Hub id, or an ONNX export folder
    from .inference import CaptionResult, ModelNotFoundError

    try:
        captioner = load_captioner(
            args.model,
            device=args.device,
            batch_size=args.batch_size,
            quantize="int8" if args.int8 else "fp16" if args.fp16 else None,
            silence_check=not args.caption_silence,
            audioset=False if args.no_audioset else "auto",
        )
    except (ModelNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # file names that are not valid UTF-8 are printed as the bytes they are, not a UnicodeEncodeError
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="surrogateescape")
    failures = 0
    table = csv.writer(sys.stdout, lineterminator="\n") if args.csv else None
    if table:
        table.writerow(CaptionResult.CSV_FIELDS)
    for result in captioner.caption_files(args.files, segment_seconds=args.segment, **generation_kwargs(args)):
        failures += result.error is not None
        if args.json:
            print(json_line(result.to_dict()), flush=True)
        elif table:
            table.writerow(result.csv_row())
            sys.stdout.flush()
        elif result.error:
            print(f"{result.file}\terror: {result.error}", file=sys.stderr)
        else:
            where = f"[{result.start:7.2f}-{result.end:7.2f} s] " if result.segmented else ""
            captions = result.candidates or [result.caption]
            trust = f"\t{trust_summary(result)}" if trust_summary(result) else ""
            for caption in captions:
                print(f"{result.file}\t{where}{caption}{trust}", flush=True)
                trust = ""  # the confidence is the best caption's
            for message in (result.note, result.warning):
                if message:
                    print(f"{result.file}\tnote: {message}", file=sys.stderr)
    return 1 if failures else 0


def trust_summary(result) -> str:
    """The text output's third column: "confidence: low (score -1.02; AudioSet: Dog, Bark: agrees)"."""
    if result.silent:
        return "no audible sound"
    if result.confidence is None:
        return ""
    details = [f"score {result.score:.2f}"]
    if result.audioset:
        verdict = {True: "agrees", False: "disagrees", None: "cannot say"}[result.audioset_agrees]
        details.append(f"AudioSet: {', '.join(item.rsplit(' ', 1)[0] for item in result.audioset[:2])}: {verdict}")
    return f"confidence: {result.confidence} ({'; '.join(details)})"


def json_line(record: dict) -> str:
    """One JSON object on one line, readable text where possible; a file name that is not valid UTF-8
    (a lone surrogate from the file system) is written \\u-escaped, so every line stays valid JSON in UTF-8."""
    line = json.dumps(record, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(record)
    return line


def _init_model(args: argparse.Namespace) -> int:
    from .hub import init_model

    init_model(args.out_dir, seed=args.seed)
    print(f"wrote a freshly initialised (untrained) EffNet-Trm to {args.out_dir}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="effnet-trm", description="Efficient audio captioning (EffNet-Trm).")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    subparsers = parser.add_subparsers(dest="command", required=True)

    caption = subparsers.add_parser("caption", help="caption audio files (wav, flac, ogg, mp3; any rate)")
    caption.add_argument("files", nargs="+", help="audio files")
    caption.add_argument(
        "--model", default=None, help="model folder or Hub id (default: $EFFNET_TRM_MODEL or outputs/demo/student)"
    )
    caption.add_argument(
        "--segment",
        type=float,
        default=None,
        metavar="SECONDS",
        help="caption per segment of this length with timestamps (default: 10 s segments "
        "for recordings over 30 s, else the whole file)",
    )
    output = caption.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON object per caption")
    output.add_argument("--csv", action="store_true", help="print a CSV table (header, then one row per caption)")
    caption.add_argument(
        "--caption-silence",
        action="store_true",
        help="caption clips with no audible sound too (by default they are captioned 'silence', with a note)",
    )
    caption.add_argument(
        "--no-audioset",
        action="store_true",
        help="skip YAMNet's second opinion (AudioSet classes, agreement with the caption) even where its "
        "weights are present",
    )
    caption.add_argument("--batch-size", type=int, default=8, help="clips per batch (default 8)")
    caption.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda")
    precision = caption.add_mutually_exclusive_group()
    precision.add_argument(
        "--int8",
        action="store_true",
        help="PyTorch models on CPU: int8/fp16 decoder linears (faster; a few captions may differ, "
        "see benchmarks/export_agreement.py). ONNX exports are quantized at export",
    )
    precision.add_argument(
        "--fp16",
        action="store_true",
        help="PyTorch models on CPU: fp16 decoder weights (faster, the same captions as fp32 in "
        "benchmarks/export_agreement.py)",
    )
    _add_generation_arguments(caption)
    caption.set_defaults(handler=_caption)

    init = subparsers.add_parser("init-model", help="write a freshly initialised model folder (smoke tests)")
    init.add_argument("out_dir")
    init.add_argument("--seed", type=int, default=0)
    init.set_defaults(handler=_init_model)

    for module_name, function_name in EXTERNAL_SUBCOMMANDS.values():
        add_subcommand = _optional_function(module_name, function_name)
        if add_subcommand is not None:
            add_subcommand(subparsers)
    return parser


def _optional_function(module_name: str, function_name: str) -> Callable | None:
    import importlib

    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and module_name.startswith(error.name):
            return None  # that part of the package is not there
        raise
    return getattr(module, function_name)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
