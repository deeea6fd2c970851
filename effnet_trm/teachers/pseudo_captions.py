"""Captions for audio that has none: the teacher's, checked against AudioSet (YAMNet).

The paper pseudo-labels its audio-only clips with the teacher's beam-search captions and trains on
them as on human ones. A small teacher is often wrong on sounds outside its training captions, and a
wrong pseudo-caption teaches the student to say it. YAMNet knows AudioSet's 521 classes and was never
trained on these captions: a teacher caption whose sound words none of YAMNet's top classes name is
contradicted and dropped (its clip stays audio-only: encoder KD still learns from it; who makes
the sound, "a person", is not a sound word here, see `AudioSetJudge.agrees`); a caption that
YAMNet agrees with becomes the clip's reference; one it cannot judge (no sound word it has a class
for) is kept or dropped by `keep_unjudged`.

Where no caption exists and the teacher is not trusted, AudioSet's labels can write one: when
YAMNet's most confident specific class names one sound class of the demo catalogue
(`catalogue_class_for`), the clip gets that class's catalogue phrasings as references
(`audioset_references`), the captions a person wrote for other recordings of that sound.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from ..data import decode_split
from ..data.catalogue import CLASSES, SoundClass
from ..data.demo_corpus import NUM_REFERENCES, caption_candidates, choose_captions
from ..trust import AGENT_WORDS, GENERIC_CLASSES, AudioSetJudge, AudioSetView, words_of

#: YAMNet's rate (AudioSet models read 16 kHz)
AUDIOSET_RATE = 16000


@dataclass(frozen=True)
class PseudoCaption:
    audio_id: str
    caption: str
    #: YAMNet's top AudioSet classes of the clip, with their scores
    audioset_top: tuple[tuple[str, float], ...]
    #: True: YAMNet names one of the caption's sound words; False: none; None: it cannot judge
    agrees: bool | None


def audioset_views(judge: AudioSetJudge, rows, progress: bool = True) -> list[AudioSetView]:
    """YAMNet's view (top classes) of every row."""
    audio = decode_split(rows, AUDIOSET_RATE, progress=False)
    return [judge.listen(waveform) for waveform in tqdm(audio, desc="YAMNet", unit="clip", disable=not progress)]


def pseudo_caption(teacher, judge, rows, batch_size: int = 16, progress: bool = True) -> list[PseudoCaption]:
    """The teacher's beam-search caption of every row, with YAMNet's top classes and verdict."""
    teacher_audio = decode_split(rows, teacher.sampling_rate, progress=False)
    views = audioset_views(judge, rows, progress=False)
    results = []
    for start in tqdm(range(0, len(rows), batch_size), desc="pseudo-captions", unit="batch", disable=not progress):
        captions = teacher.caption(teacher_audio[start : start + batch_size])
        for offset, caption in enumerate(captions):
            view = views[start + offset]
            audio_id = rows[start + offset]["audio_id"]
            verdict = judge.agrees(caption, view, agents_name_speech=False)
            results.append(PseudoCaption(audio_id, caption, tuple(view.top), verdict))
    return results


def accepted(pseudo: PseudoCaption, keep_unjudged: bool = False) -> bool:
    return pseudo.agrees is True or (pseudo.agrees is None and keep_unjudged)


def accepted_references(
    pseudo: list[PseudoCaption], keep_unjudged: bool = False, filtered: bool = True
) -> dict[str, list[str]]:
    """{audio_id: [pseudo-caption]} for the accepted pseudo-captions (all of them when not `filtered`)."""
    return {p.audio_id: [p.caption] for p in pseudo if not filtered or accepted(p, keep_unjudged)}


def split_pool(rows, references: dict[str, list[str]]):
    """(captioned, audio_only) rows of a pool: the clips that `references` ({audio_id: captions}) holds,
    with those captions, and the rest as they were."""
    keep = [i for i, audio_id in enumerate(rows["audio_id"]) if audio_id in references]
    rest = sorted(set(range(len(rows))) - set(keep))
    captioned = rows.select(keep).map(lambda row: {"captions": references[row["audio_id"]]}, desc=None)
    return captioned, rows.select(rest)


# --- AudioSet's labels where no caption exists -----------------------------------------------------

#: AudioSet ontology parents (or near-parents) that cover many sound classes: naming one says
#: little about which sound it is (YAMNet says "Animal" beside "Dog", "Music" beside "Piano").
BROAD_CLASSES = frozenset(
    {
        "Animal",
        "Domestic animals, pets",
        "Livestock, farm animals, working animals",
        "Wild animals",
        "Music",
        "Musical instrument",
        "Vehicle",
        "Motor vehicle (road)",
        "Tools",
        "Mechanisms",
        "Speech",
        "Human voice",
    }
)
#: YAMNet's score (its highest over the clip's patches) from which its top class may name the sound.
AUDIOSET_LABEL_MIN_SCORE = 0.5


@functools.cache  # asked for every catalogue class at every clip
def catalogue_words(sound: SoundClass) -> frozenset[str]:
    """The words (stems) of a catalogue class's phrasings, who makes the sound left out."""
    return frozenset(words_of(" ".join(sound.clauses + sound.nouns)) - AGENT_WORDS)


def catalogue_class_for(
    view: AudioSetView, judge: AudioSetJudge, classes: dict[str, SoundClass] = CLASSES
) -> str | None:
    """The catalogue class that YAMNet names, or None.

    Only YAMNet's most confident class counts, once settings ("Inside, small room") and ontology
    parents ("Animal") are passed over, and only at `AUDIOSET_LABEL_MIN_SCORE` or more: a less sure
    label writes no caption. It names the catalogue class whose phrasings share the most words with
    its name (and the words `trust.CLASS_WORDS` gives it); a tie ("Walk, footsteps" names every
    footsteps class alike) names none."""
    specific = [(name, score) for name, score in view.top if name not in GENERIC_CLASSES | BROAD_CLASSES]
    if not specific or specific[0][1] < AUDIOSET_LABEL_MIN_SCORE:
        return None
    label_words = judge.class_words[specific[0][0]]
    shared = {name: len(catalogue_words(sound) & label_words) for name, sound in classes.items()}
    most = max(shared.values(), default=0)
    winners = [name for name, count in shared.items() if count == most]
    return winners[0] if most and len(winners) == 1 else None


def audioset_references(
    views: dict[str, AudioSetView],
    judge: AudioSetJudge,
    seed: int = 0,
    count: int = NUM_REFERENCES,
    classes: dict[str, SoundClass] = CLASSES,
) -> dict[str, list[str]]:
    """{audio_id: references} for the clips whose sound YAMNet names (`catalogue_class_for` among
    `classes`): `count` of that class's catalogue phrasings (an ambience's as a bed, an event's as one
    event: a pool clip holds one recording), drawn with `seed`. A held-out-source fold passes its
    training packages' classes, so that no phrasing written for the held-out package is taught."""
    rng = np.random.default_rng(seed)
    references = {}
    for audio_id, view in views.items():
        name = catalogue_class_for(view, judge, classes)
        if name is not None:
            sound = classes[name]
            recipe = "bed" if sound.role == "bed" else "event"
            references[audio_id] = choose_captions(caption_candidates(recipe, [sound]), rng, count)
    return references


def verdict_counts(pseudo: list[PseudoCaption]) -> Counter:
    """How many pseudo-captions YAMNet agreed with, contradicted, or could not judge."""
    names = {True: "agrees", False: "contradicts", None: "cannot judge"}
    return Counter(names[p.agrees] for p in pseudo)
