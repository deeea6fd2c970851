"""Captions for audio that has none: the teacher's, checked against AudioSet (YAMNet).

The paper pseudo-labels its audio-only clips with the teacher's beam-search captions and trains on
them as on human ones. A small teacher is often wrong on sounds outside its training captions, and a
wrong pseudo-caption teaches the student to say it. YAMNet knows AudioSet's 521 classes and was never
trained on these captions: a teacher caption whose sound words none of YAMNet's top classes name is
contradicted and dropped (its clip stays audio-only: encoder KD still learns from it; who makes
the sound, "a person", is not a sound word here, see `AudioSetJudge.agrees`); a caption that
YAMNet agrees with becomes the clip's reference; one it cannot judge (no sound word it has a class
for) is kept or dropped by `keep_unjudged`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from tqdm.auto import tqdm

from ..data import decode_split

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


def pseudo_caption(teacher, judge, rows, batch_size: int = 16, progress: bool = True) -> list[PseudoCaption]:
    """The teacher's beam-search caption of every row, with YAMNet's top classes and verdict."""
    teacher_audio = decode_split(rows, teacher.sampling_rate, progress=False)
    audioset_audio = decode_split(rows, AUDIOSET_RATE, progress=False)
    results = []
    for start in tqdm(range(0, len(rows), batch_size), desc="pseudo-captions", unit="batch", disable=not progress):
        captions = teacher.caption(teacher_audio[start : start + batch_size])
        for offset, caption in enumerate(captions):
            view = judge.listen(audioset_audio[start + offset])
            audio_id = rows[start + offset]["audio_id"]
            verdict = judge.agrees(caption, view, agents_name_speech=False)
            results.append(PseudoCaption(audio_id, caption, tuple(view.top), verdict))
    return results


def accepted(pseudo: PseudoCaption, keep_unjudged: bool = False) -> bool:
    return pseudo.agrees is True or (pseudo.agrees is None and keep_unjudged)


def split_pool(rows, pseudo: list[PseudoCaption], keep_unjudged: bool = False, filtered: bool = True):
    """(captioned, audio_only) rows of a pool: the clips whose pseudo-caption is accepted (all of them
    when not `filtered`), with that caption as their reference, and the rest as they were."""
    by_id = {p.audio_id: p for p in pseudo}
    keep = [
        i for i, audio_id in enumerate(rows["audio_id"]) if not filtered or accepted(by_id[audio_id], keep_unjudged)
    ]
    rest = sorted(set(range(len(rows))) - set(keep))
    captioned = rows.select(keep)
    captioned = captioned.map(lambda row: {"captions": [by_id[row["audio_id"]].caption]}, desc=None)
    return captioned, rows.select(rest)


def verdict_counts(pseudo: list[PseudoCaption]) -> Counter:
    """How many pseudo-captions YAMNet agreed with, contradicted, or could not judge."""
    names = {True: "agrees", False: "contradicts", None: "cannot judge"}
    return Counter(names[p.agrees] for p in pseudo)
