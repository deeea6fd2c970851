#!/usr/bin/env python
"""The paper's Table 2 in miniature: scratch vs MSE vs contrastive encoder KD, each without and with
audio-only data, over several seeds, with the teacher's own scores on top.

    python benchmarks/distill_table.py --preset quick --seeds 0 1 2 \
        --out outputs/distill_table_quick_pretrained    # docs/method.md's table (about 2 h on 2 cores)
    python benchmarks/distill_table.py --preset quick --out outputs/distill_table_quick_pretrained --report-only
    python benchmarks/distill_table.py --preset bench --seeds 0 1 2      # the larger corpus (not run yet)

It builds (or reuses) the corpus, the demo teacher and its cache as `make demo` does (encoders
pretrained from YAMNet; `--no-pretrained`: from random weights), then trains every
variant with configs/demo_quick.yaml as the base and scores it on the test split (beam 3). Prints mean
+- std of the offline metrics, the number of distinct test captions (a collapsed captioner that says
one sentence for every clip can still score on CIDEr-D), and the wall time; `--json` keeps every run.
Each run's scores and captions stay in its folder, and a rerun skips finished runs; a folder made
with other settings or another configs/demo_quick.yaml is refused (--report-only still prints it).
The last four variants drop sequence KD (L_sup + L_enc), the loss suspected of pulling students onto
the teacher's few frequent sentences: the final recipe without it, then the rest of the MSE /
contrastive x without / with audio-only square, to test the paper's encoder-KD claims there too.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

METRICS = ("bleu_4", "meteor", "rouge_l", "cider_d", "sbert_sim_minilm")
#: Not a caption metric: how many different captions a model gives the test clips. A captioner that
#: says the same sentence for every clip can still score well on CIDEr-D when that sentence matches a
#: few clips exactly, so the table shows it next to the scores.
DISTINCT = "distinct_captions"
VARIANTS = {  # every variant states both losses: the base config's own choice must not leak in
    "scratch": ["kd.encoder_loss=none", "kd.sequence_kd=false", "data.audio_only_split=null"],
    "mse": ["kd.encoder_loss=mse", "kd.sequence_kd=true", "data.audio_only_split=null"],
    "mse + audio-only": ["kd.encoder_loss=mse", "kd.sequence_kd=true"],
    "contrastive": ["kd.encoder_loss=contrastive", "kd.sequence_kd=true", "data.audio_only_split=null"],
    "contrastive + audio-only": ["kd.encoder_loss=contrastive", "kd.sequence_kd=true"],
    # the final recipe without sequence KD (L_sup + L_enc): the suspected amplifier of collapse onto
    # the teacher's few frequent sentences is L_seq on its pseudo-captions
    "contrastive + audio-only, no seq KD": ["kd.encoder_loss=contrastive", "kd.sequence_kd=false"],
    # the paper's two encoder-KD claims (contrastive >= MSE; audio-only data helps) once more, in that
    # regime: the rest of the 2 x 2 without L_seq
    "mse, no seq KD": ["kd.encoder_loss=mse", "kd.sequence_kd=false", "data.audio_only_split=null"],
    "mse + audio-only, no seq KD": ["kd.encoder_loss=mse", "kd.sequence_kd=false"],
    "contrastive, no seq KD": ["kd.encoder_loss=contrastive", "kd.sequence_kd=false", "data.audio_only_split=null"],
}
BASE_CONFIG = "configs/demo_quick.yaml"


def run_name(variant: str, seed: int) -> str:
    """A run's folder: "contrastive + audio-only", seed 0 -> contrastive_audio-only_seed0."""
    return re.sub(r"[^A-Za-z0-9-]+", "_", variant).strip("_") + f"_seed{seed}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="bench", choices=["quick", "bench"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None, help="override the student's epochs")
    parser.add_argument(
        "--teacher-epochs",
        type=int,
        default=None,
        help="epochs of the demo teacher (default: train_demo_teacher's, as `make demo`)",
    )
    parser.add_argument(
        "--no-pretrained",
        dest="pretrained",
        action="store_false",
        help="both encoders from random weights (the table before encoder pretraining)",
    )
    parser.add_argument("--out", default=None, help="output folder (default outputs/distill_table_<preset>)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--json", default=None)
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="train nothing (no teacher, no cache): print the table from the runs already finished",
    )
    args = parser.parse_args(argv)

    from effnet_trm.distill.config import load_config
    from effnet_trm.distill.demo import RANDOM_INIT_OVERRIDES
    from effnet_trm.distill.trainer import Trainer
    from effnet_trm.evaluation.runner import caption_split
    from effnet_trm.inference import Captioner

    started = time.perf_counter()
    root = Path(args.out or f"outputs/distill_table_{args.preset}")
    settings = {
        "preset": args.preset,
        "epochs": args.epochs,
        "teacher_epochs": args.teacher_epochs,
        "pretrained": args.pretrained,
        "base_config_sha1": hashlib.sha1(Path(BASE_CONFIG).read_bytes()).hexdigest()[:12],
    }
    _check_settings(root, settings, report_only=args.report_only)
    dataset = Path(f"data/demo_{args.preset}")
    teacher_scores = root / "teacher" / "test_scores.json"
    runs = {"teacher": [json.loads(teacher_scores.read_text())] if teacher_scores.exists() else []}
    if not args.report_only:
        test, references = _prepare_teacher(args, root, dataset, teacher_scores)
        runs["teacher"] = [json.loads(teacher_scores.read_text())]
    # Seed-major order: an interrupted benchmark still has every variant for the seeds it finished.
    # Each run's scores are kept in its folder, so a rerun skips what is done.
    for seed in args.seeds:
        for variant in args.variants:
            name = run_name(variant, seed)
            scores_file = root / name / "test_scores.json"
            runs.setdefault(variant, [])
            if scores_file.exists():
                runs[variant].append(json.loads(scores_file.read_text()))
                print(f"{name}: reusing {scores_file}", flush=True)
                continue
            if args.report_only:
                continue
            overrides = (
                VARIANTS[variant]
                + [
                    f"data.dataset={dataset}",
                    f"data.teacher_cache={root / 'teacher_cache'}",
                    f"training.seed={seed}",
                    f"output_dir={root / name}",
                    f"model_dir={root / name / 'model'}",
                    "training.log_with=null",
                ]
                + ([] if args.pretrained else list(RANDOM_INIT_OVERRIDES))
                + ([f"training.epochs={args.epochs}"] if args.epochs else [])
            )
            run_started = time.perf_counter()
            model_dir = Trainer(load_config(BASE_CONFIG, overrides)).train()
            captions = caption_split(Captioner.from_pretrained(str(model_dir)), test, progress=False)
            scores = _score(captions, references, root / name)
            scores_file.write_text(json.dumps(scores, indent=2) + "\n")
            runs[variant].append(scores)
            print(f"{name} ({(time.perf_counter() - run_started) / 60:.1f} min): {scores}", flush=True)

    wall = time.perf_counter() - started
    print(f"\n{'model':<36}" + "".join(f"{m:>20}" for m in METRICS + (DISTINCT,)))
    for variant, scores in runs.items():
        cells = []
        for metric in METRICS + (DISTINCT,):
            values = [s[metric] for s in scores if metric in s]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):>12.3f} +- {spread:.3f}" if values else f"{'-':>20}")
        print(f"{variant:<36}" + "".join(cells) + (f"{len(scores):>4} run(s)" if scores else "  not run"))
    print(f"\n{args.preset} corpus, seeds {args.seeds}; wall time {wall / 60:.0f} min")
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": runs, "wall_s": wall}, indent=2) + "\n")
    return 0


def _prepare_teacher(args, root: Path, dataset: Path, teacher_scores: Path):
    """Corpus, demo teacher, its cache and its test scores (each reused when present); the test split."""
    from datasets import load_from_disk

    from effnet_trm.data.demo_corpus import build_demo_corpus
    from effnet_trm.distill.demo import demo_teacher, pretrained_encoders, teacher_captions
    from effnet_trm.teachers.cache import build_teacher_cache

    if not (dataset / "dataset_dict.json").exists():
        build_demo_corpus(dataset, preset=args.preset)
    teacher_dir = root / "teacher"
    # make demo's teacher: HTSAT pretrained from YAMNet, frozen (or from random weights: --no-pretrained)
    encoder_init = pretrained_encoders()["htsat_demo"] if args.pretrained else None
    teacher = demo_teacher(dataset, teacher_dir, encoder_init=encoder_init, epochs=args.teacher_epochs)
    build_teacher_cache(teacher, str(dataset), root / "teacher_cache", ["train", "audio_only"])
    test = load_from_disk(str(dataset))["test"]
    references = [list(r) for r in test["captions"]]
    if not teacher_scores.exists():
        teacher_scores.write_text(
            json.dumps(_score(teacher_captions(teacher, test), references, teacher_dir), indent=2) + "\n"
        )
    return test, references


def _score(captions: list[str], references: list[list[str]], folder: Path) -> dict:
    """Corpus scores plus the number of distinct captions; the captions are kept in `folder`."""
    from effnet_trm.evaluation.metrics import scores_with_distinct

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test_captions.json").write_text(json.dumps(captions, indent=1) + "\n")
    return scores_with_distinct(captions, references, METRICS)


def _check_settings(root: Path, settings: dict, report_only: bool = False) -> None:
    """Finished runs are reused: refuse to mix runs made with other settings (or another base config)
    in one folder. A report of such a folder is printed, with a note."""
    recorded = root / "settings.json"
    if recorded.exists() and json.loads(recorded.read_text()) != settings:
        message = f"{root} holds runs made with {recorded.read_text().strip()}; asked for {settings}"
        if not report_only:
            raise SystemExit(f"{message}: pass another --out")
        print(f"note: {message}", flush=True)
    if report_only:
        return
    root.mkdir(parents=True, exist_ok=True)
    recorded.write_text(json.dumps(settings) + "\n")


if __name__ == "__main__":
    sys.exit(main())
