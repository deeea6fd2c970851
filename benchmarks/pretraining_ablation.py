#!/usr/bin/env python
"""Encoder pretraining on vs off, for the demo teacher and the student: the whole `make demo` job
(teacher, teacher cache, distilled student, test scores) with both encoders from the YAMNet-distilled
weights in `pretrained/`, and with both from random weights, over several seeds.

    python benchmarks/pretraining_ablation.py --seeds 0 1 2          # 6 demo runs (13 to 25 min each on 2 cores)
    python benchmarks/pretraining_ablation.py --arms on              # one arm only (a rerun adds the other)
    python benchmarks/pretraining_ablation.py --report-only          # the table of the finished runs
    python benchmarks/pretraining_ablation.py --teacher-only         # the demo teacher alone (~3 min a run)

Seed s sets the teacher's and the student's seed. Every run keeps its folder under --out
(outputs/pretraining_ablation/{on,off}_seed{s}/) and a rerun skips finished runs. Prints mean +- std
over seeds of CIDEr-D, BLEU-4, METEOR, the sentence similarity and the distinct test captions.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

METRICS = ("cider_d", "bleu_4", "meteor", "sbert_sim_minilm", "distinct_captions")
DATASET = "data/demo_quick"
ROLES = {"teacher (HTSAT-BART demo)": "teacher", "student (EffNet-Trm)": "student"}


def run_folder(out: Path, pretrained: bool, seed: int) -> Path:
    return out / f"{'on' if pretrained else 'off'}_seed{seed}"


def run(out: Path, pretrained: bool, seed: int) -> dict:
    from effnet_trm.distill.demo import run_demo

    folder = run_folder(out, pretrained, seed)
    results = folder / "distill" / "demo_results.json"
    if not results.exists():
        overrides = [
            f"training.seed={seed}",
            f"data.teacher_cache={folder}/teacher_cache",
            f"output_dir={folder}/distill",
            f"model_dir={folder}/student",
        ]
        run_demo(overrides=overrides, pretrained=pretrained)
    return json.loads(results.read_text())


def run_teacher_only(out: Path, pretrained: bool, seed: int) -> dict:
    """Stage 3 of `make demo` alone (the demo teacher, as `make demo` trains it) and its test scores."""
    from datasets import load_from_disk

    from effnet_trm.distill.demo import demo_teacher, pretrained_encoders, teacher_captions
    from effnet_trm.evaluation.metrics import ALL_METRICS, compute_caption_metrics, distinct_captions

    folder = run_folder(out, pretrained, seed) / "teacher"
    results = folder / "test_results.json"
    if not results.exists():
        if not (Path(DATASET) / "dataset_dict.json").exists():
            from effnet_trm.data.demo_corpus import build_demo_corpus

            build_demo_corpus(DATASET, preset="quick")
        encoder_init = pretrained_encoders()["htsat_demo"] if pretrained else None
        teacher = demo_teacher(DATASET, folder, seed, encoder_init)
        test = load_from_disk(DATASET)["test"]
        captions = teacher_captions(teacher, test)
        scores = compute_caption_metrics(captions, [list(r) for r in test["captions"]], metrics=ALL_METRICS)
        results.write_text(
            json.dumps(
                {"scores": scores.corpus, "distinct_captions": distinct_captions(captions), "captions": captions},
                indent=1,
            )
            + "\n"
        )
    return json.loads(results.read_text())


def table(runs: dict[tuple[str, bool], list[dict]]) -> str:
    lines = [
        "| model | encoder pretraining | runs | " + " | ".join(METRICS) + " |",
        "|---|---|---|" + "---|" * len(METRICS),
    ]
    for (role, pretrained), entries in sorted(runs.items(), key=lambda kv: (kv[0][0] != "teacher", kv[0][1])):
        cells = []
        for metric in METRICS:
            values = [e[metric] for e in entries if e.get(metric) is not None]
            if not values:
                cells.append("-")
            elif len(values) == 1:
                cells.append(f"{values[0]:.3f}" if metric != "distinct_captions" else f"{values[0]:.0f}")
            else:
                cells.append(f"{statistics.mean(values):.3f} +- {statistics.stdev(values):.3f}")
        lines.append(
            f"| {role} | {'YAMNet-distilled' if pretrained else 'random'} | {len(entries)} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", default="outputs/pretraining_ablation")
    parser.add_argument("--report-only", action="store_true", help="train nothing: tabulate the finished runs")
    parser.add_argument(
        "--teacher-only",
        action="store_true",
        help="the demo teacher alone (make demo's stage 3) and its test scores, no student",
    )
    parser.add_argument(
        "--arms",
        nargs="+",
        choices=["on", "off"],
        default=["on", "off"],
        help="run (or tabulate) only these arms: encoder pretraining on, off",
    )
    args = parser.parse_args(argv)
    out = Path(args.out)
    started = time.perf_counter()
    runs: dict[tuple[str, bool], list[dict]] = {}
    for seed in args.seeds:
        for pretrained in [arm == "on" for arm in args.arms]:
            if args.teacher_only:
                finished = (run_folder(out, pretrained, seed) / "teacher" / "test_results.json").exists()
                if finished or not args.report_only:
                    result = run_teacher_only(out, pretrained, seed)
                    runs.setdefault(("teacher", pretrained), []).append(
                        {**result["scores"], "distinct_captions": result["distinct_captions"]}
                    )
                continue
            finished = (run_folder(out, pretrained, seed) / "distill" / "demo_results.json").exists()
            if args.report_only and not finished:
                continue
            report = run(out, pretrained, seed)
            for name, result in report["results"].items():
                entry = {**result["scores"], "distinct_captions": result["distinct_captions"]}
                runs.setdefault((ROLES[name], pretrained), []).append(entry)
    print(table(runs))
    print(f"\nwall time {time.perf_counter() - started:.0f} s (finished runs are reused)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
