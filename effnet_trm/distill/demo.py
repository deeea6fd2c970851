"""The main job on the embedded default: corpus -> AudioSet-pretrained encoders -> demo teacher ->
teacher cache -> distilled student -> test scores of both, in one command (`make demo`). Finished
stages are reused on a second run.

Both encoders start from YAMNet-distilled weights (`pretrained/`, committed; remade by
`python pretrain_encoder.py --demo`, which this job also runs when they are missing), as the paper
starts its encoders from AudioSet weights. `--no-pretrained` starts both from random weights and trains
them end to end (the recipes before encoder pretraining: `TEACHER_EPOCHS`, `RANDOM_INIT_OVERRIDES`).

    python -m effnet_trm.distill.demo [--preset quick] [--config configs/demo_quick.yaml] [--no-pretrained]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from ..evaluation.metrics import ALL_METRICS, compute_caption_metrics, distinct_captions

logger = logging.getLogger(__name__)

#: Epochs of the demo teacher (HTSAT-BART, demo size) on train + audio_only captions: with the
#: pretrained HTSAT frozen (its frames computed once, so an epoch is cheap), and end to end from
#: random weights (`--no-pretrained`, the recipe before encoder pretraining).
TEACHER_EPOCHS = {"pretrained": 60, "random": 12}
#: The student's recipe without pretraining (`--no-pretrained`): a random EfficientNet must learn, so
#: the whole of it trains, end to end, for the 4 epochs (60 steps of about 16 s) that fit the budget,
#: as before encoder pretraining. Freezing random stages would test nothing.
RANDOM_INIT_OVERRIDES = (
    "model.encoder_init_from=null",
    "training.frozen_encoder_stages=0",
    "training.cache_frozen_stages=false",
    "training.epochs=4",
    "training.validate_every_epochs=2",
)
REPORT_METRICS = ("bleu_1", "bleu_4", "meteor", "rouge_l", "cider_d", "spider", "fense", "sbert_sim_minilm")


def _stage(name: str):
    print(f"\n=== {name}", flush=True)
    return time.perf_counter()


def pretrained_encoders() -> dict[str, Path]:
    """The demo's pretrained encoder folders, made first if they are missing (slow on a CPU)."""
    from ..pretrain.cli import DEMO_OUT, DEMO_RUNS
    from ..pretrain.cli import main as pretrain_main
    from ..pretrain.trainer import WEIGHTS_FILE

    folders = {encoder: DEMO_OUT / f"{encoder}_yamnet" for encoder in DEMO_RUNS}
    if all((folder / WEIGHTS_FILE).exists() for folder in folders.values()):
        print(
            f"using the committed encoders {', '.join(map(str, folders.values()))} "
            "(remake: python pretrain_encoder.py --demo)",
            flush=True,
        )
    else:
        pretrain_main(["--demo"])
    return folders


def demo_teacher(
    dataset: str | Path,
    teacher_dir: str | Path,
    seed: int = 0,
    encoder_init: str | Path | None = None,
    epochs: int | None = None,
):
    """The demo teacher in `teacher_dir`, trained there first if missing: on the pretrained HTSAT
    (`encoder_init`), kept frozen, or end to end from random weights without one."""
    from ..teachers.htsat_bart import CHECKPOINT_FILE, HTSATBartTeacher
    from ..teachers.train_teacher import train_demo_teacher

    if (Path(teacher_dir) / CHECKPOINT_FILE).exists():
        return HTSATBartTeacher.from_pretrained(teacher_dir)
    pretrained = encoder_init is not None
    return train_demo_teacher(
        str(dataset),
        teacher_dir,
        seed=seed,
        encoder_init=encoder_init,
        epochs=epochs or TEACHER_EPOCHS["pretrained" if pretrained else "random"],
        freeze_encoder=pretrained,
    )


def teacher_captions(teacher, rows, batch_size: int = 16) -> list[str]:
    """The teacher's beam-search captions of a split's clips (decoded at the teacher's rate)."""
    from ..data import decode_split

    audio = decode_split(rows, teacher.sampling_rate, progress=False)
    return [c for i in range(0, len(audio), batch_size) for c in teacher.caption(audio[i : i + batch_size])]


def run_demo(
    preset: str = "quick",
    config_path: str = "configs/demo_quick.yaml",
    teacher_epochs: int | None = None,
    overrides: list[str] = (),
    pretrained: bool = True,
) -> dict:
    from datasets import load_from_disk

    from modelcard_effnet_trm import update_model_card

    from ..data.demo_corpus import build_demo_corpus
    from ..evaluation.runner import caption_split
    from ..inference import Captioner
    from ..teachers.cache import build_teacher_cache
    from .config import load_config
    from .trainer import Trainer

    if not pretrained:
        overrides = [*RANDOM_INIT_OVERRIDES, *overrides]
    config = load_config(config_path, list(overrides))
    dataset = Path(config.data.dataset)
    teacher_dir = Path(config.data.teacher_cache).parent / "teacher"
    timings = {}

    started = _stage(f"1/6 demo corpus ({preset}) -> {dataset}")
    if not (dataset / "dataset_dict.json").exists():
        build_demo_corpus(dataset, preset=preset)
    timings["corpus"] = time.perf_counter() - started

    started = _stage("2/6 AudioSet knowledge: encoders pretrained by distillation from YAMNet")
    encoders = pretrained_encoders() if pretrained else {}
    if not pretrained:
        print("--no-pretrained: both encoders start from random weights", flush=True)
    timings["pretrained encoders"] = time.perf_counter() - started

    started = _stage(
        f"3/6 demo teacher (HTSAT-BART, demo size{', pretrained HTSAT frozen' if pretrained else ''}) -> {teacher_dir}"
    )
    teacher = demo_teacher(dataset, teacher_dir, config.training.seed, encoders.get("htsat_demo"), teacher_epochs)
    timings["teacher"] = time.perf_counter() - started

    started = _stage(f"4/6 teacher cache -> {config.data.teacher_cache}")
    splits = [config.data.train_split] + ([config.data.audio_only_split] if config.data.audio_only_split else [])
    build_teacher_cache(teacher, str(dataset), config.data.teacher_cache, splits)
    timings["cache"] = time.perf_counter() - started

    started = _stage("5/6 distilling the student")
    trainer = Trainer(config)
    model_dir = trainer.train()
    timings["distill"] = time.perf_counter() - started

    started = _stage("6/6 test scores (beam 3)")
    test = load_from_disk(str(dataset))["test"]
    references = [list(r) for r in test["captions"]]
    student_captions = caption_split(Captioner.from_pretrained(str(model_dir)), test)
    teacher_test_captions = teacher_captions(teacher, test)
    results = {}
    for name, captions in (
        ("teacher (HTSAT-BART demo)", teacher_test_captions),
        ("student (EffNet-Trm)", student_captions),
    ):
        scores = compute_caption_metrics(captions, references, metrics=ALL_METRICS)
        results[name] = {
            "scores": scores.corpus,
            "unavailable": scores.unavailable,
            "distinct_captions": distinct_captions(captions),
            "clips": len(captions),
        }
    timings["evaluate"] = time.perf_counter() - started

    update_model_card(model_dir, results={"demo": demo_result(results, preset)})
    report = {
        "results": results,
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "examples": [
            {"audio_id": a, "references": r[:2], "teacher": t, "student": s}
            for a, r, t, s in list(zip(test["audio_id"], references, teacher_test_captions, student_captions))[:5]
        ],
    }
    out = Path(config.output_dir) / "demo_results.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print_table(results, timings)
    print(f"\nstudent model folder: {model_dir}   (effnet-trm caption FILE --model {model_dir})")
    print(f"results: {out}")
    return report


def demo_result(results: dict, preset: str) -> dict:
    """The student's test figures as the model card takes them (`modelcard_effnet_trm`), the teacher's
    CIDEr-D on the same clips in words."""
    student, teacher = results["student (EffNet-Trm)"], results["teacher (HTSAT-BART demo)"]
    teacher_cider = teacher["scores"].get("cider_d")
    return {
        "dataset_name": f"effnet-trm demo corpus ({preset} preset)",
        "dataset_type": "effnet-trm-demo-corpus",
        "split": "test",
        "metrics": {name: value for name, value in student["scores"].items() if value is not None},
        "distinct_captions": student["distinct_captions"],
        "clips": student["clips"],
        "description": "beam 3; the demo teacher (HTSAT-BART) on the same clips: "
        + (f"CIDEr-D {teacher_cider:.3f}, " if teacher_cider is not None else "")
        + f"{teacher['distinct_captions']} distinct captions",
    }


def print_table(results: dict, timings: dict) -> None:
    names = list(results)
    print(f"\n{'metric (demo test split)':<26}" + "".join(f"{n:>28}" for n in names))
    for metric in REPORT_METRICS:
        cells = []
        for name in names:
            value = results[name]["scores"].get(metric)
            cells.append(f"{value:>28.4f}" if value is not None else f"{'unavailable offline':>28}")
        print(f"{metric:<26}" + "".join(cells))
    print(
        f"{'distinct captions':<26}"
        + "".join(f"{str(results[n]['distinct_captions']) + ' of ' + str(results[n]['clips']):>28}" for n in names)
    )
    unavailable = results[names[-1]]["unavailable"]
    for metric, reason in unavailable.items():
        print(f"  {metric}: unavailable offline: {reason[:150]}")
    print(
        "\nwall time: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
        + f" (total {sum(timings.values()):.0f} s)"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--config", default="configs/demo_quick.yaml")
    parser.add_argument("--teacher-epochs", type=int, help=f"default: {TEACHER_EPOCHS}")
    parser.add_argument("--no-pretrained", action="store_true", help="start both encoders from random weights")
    parser.add_argument("overrides", nargs="*", help="section.key=value overrides of the distillation config")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    run_demo(args.preset, args.config, args.teacher_epochs, args.overrides, pretrained=not args.no_pretrained)
    return 0


if __name__ == "__main__":
    sys.exit(main())
