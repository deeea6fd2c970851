"""Does a caption's confidence say whether it is right? And does the n-gram block cost CIDEr-D?

    python benchmarks/confidence.py --model outputs/demo/student --dataset data/demo_quick \
        --split test --held-out 200 --ngram-sizes 0,1,2,3 --calibration-split validation

Two tables per set of clips (the split, and `--held-out` new clips composed from the demo corpus's
validation and test recordings, `build_held_out_clips`: sounds the model never heard in training):

1. **repetition** (`--ngram-sizes`): for each `no_repeat_ngram_size`, the corpus CIDEr-D, the share
   of captions with a word said twice in a row ("steadily steadily") and with any two-word sequence
   said twice;
2. **confidence** (the model's own generation config): the clips bucketed by confidence level
   (`effnet_trm.trust.confidence_level`, from the score) and by YAMNet's agreement. Per bucket: clips,
   mean score, mean per-clip CIDEr-D (each clip scored within the whole set), and whether the caption
   names a sound that is in the clip ("right sound": a word of one of the clip's classes in the demo
   catalogue) or only sounds that are not ("wrong sound").

`--calibration-split` prints the tertiles of the scores on that split (the confidence thresholds
are set from the validation split, then judged here on test and held-out clips).
"""

from __future__ import annotations

import argparse
import io
import itertools
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def load_sets(dataset: str, split: str, held_out: int) -> dict:
    """{name: (waveforms, references, classes)}."""
    import datasets

    from effnet_trm.audio import load_audio

    sets = {f"{split} split": datasets.load_from_disk(dataset)[split]}
    if held_out:
        from effnet_trm.data.demo_corpus import build_held_out_clips

        sets[f"{held_out} held-out clips"] = build_held_out_clips(held_out, progress=False)
    return {
        name: (
            [load_audio(io.BytesIO(audio["bytes"])) for audio in rows["audio"]],
            [list(r) for r in rows["captions"]],
            [list(c) for c in rows["classes"]],
        )
        for name, rows in sets.items()
    }


def class_words() -> dict[str, set[str]]:
    """Demo class -> the word stems its captions use for it (its name, clauses and noun phrases)."""
    from effnet_trm.data.catalogue import CLASSES
    from effnet_trm.trust import words_of

    generic = {"make", "go", "keep", "someth", "thing", "near", "slowly", "quickly"}
    return {
        name: words_of(" ".join([name.replace("_", " "), *sound.clauses, *sound.nouns])) - generic
        for name, sound in CLASSES.items()
    }


def sound_verdict(caption: str, classes: list[str], words: dict[str, set[str]]) -> str:
    """ "right" (names a sound of the clip), "wrong" (names only sounds not in it) or "none"."""
    from effnet_trm.trust import words_of

    said = words_of(caption)
    true = set().union(*(words.get(c, set()) for c in classes)) if classes else set()
    other = set().union(*(w for c, w in words.items() if c not in classes)) - true
    if said & true:
        return "right"
    return "wrong" if said & other else "none"


def repeats(caption: str) -> tuple[bool, bool]:
    from effnet_trm.evaluation.metrics import caption_words, says_a_word_twice

    bigrams = list(itertools.pairwise(caption_words(caption)))
    return says_a_word_twice(caption), len(bigrams) != len(set(bigrams))


def caption_all(captioner, waveforms, batch_size=16, **kwargs):
    captions, scores = [], []
    for start in range(0, len(waveforms), batch_size):
        texts, values = captioner.caption_with_scores(waveforms[start : start + batch_size], **kwargs)
        captions += texts
        scores += values
    return captions, scores


def cider(captions, references) -> tuple[float, list[float]]:
    from effnet_trm.evaluation.metrics import compute_caption_metrics

    scores = compute_caption_metrics(captions, references, metrics=("cider_d",))
    if "cider_d" not in scores.corpus:
        raise RuntimeError(f"CIDEr-D did not run: {scores.unavailable.get('cider_d')}")
    return scores.corpus["cider_d"], scores.per_clip["cider_d"]


def repetition_table(captioner, waveforms, references, sizes) -> list[str]:
    lines = [
        f"{'no_repeat_ngram_size':>20} | {'CIDEr-D':>7} | {'word twice in a row':>19} | {'a bigram twice':>14} | time",
        "-" * 82,
    ]
    for size in sizes:
        started = time.perf_counter()
        captions, _ = caption_all(captioner, waveforms, no_repeat_ngram_size=size)
        seconds = time.perf_counter() - started
        corpus, _ = cider(captions, references)
        doubled = np.mean([repeats(c)[0] for c in captions])
        bigram = np.mean([repeats(c)[1] for c in captions])
        lines.append(f"{size:>20} | {corpus:7.4f} | {doubled:19.1%} | {bigram:14.1%} | {seconds:.0f} s")
    return lines


def bucket_rows(name, members, scores, per_clip, verdicts) -> str:
    """One bucket: its clips, their mean score, mean per-clip CIDEr-D (each clip scored within the whole
    set, so buckets compare), and the shares of right-sound and wrong-sound captions."""
    if not members:
        return f"{name:<34} | {0:>5} |"
    right = np.mean([verdicts[i] == "right" for i in members])
    wrong = np.mean([verdicts[i] == "wrong" for i in members])
    return (
        f"{name:<34} | {len(members):>5} | {np.mean([scores[i] for i in members]):10.3f} | "
        f"{np.mean([per_clip[i] for i in members]):12.3f} | {right:11.1%} | {wrong:11.1%}"
    )


def confidence_table(captioner, waveforms, references, classes) -> list[str]:
    from effnet_trm.inference import CaptionResult
    from effnet_trm.trust import CONFIDENCE_LEVELS, CONFIDENCE_THRESHOLDS

    words = class_words()
    results = []
    for start in range(0, len(waveforms), 16):
        results += captioner.caption_clips(waveforms[start : start + 16])
    results: list[CaptionResult]
    captions = [r.caption for r in results]
    scores = [r.score if r.score is not None else float("nan") for r in results]
    corpus, per_clip = cider(captions, references)
    verdicts = [sound_verdict(c, k, words) for c, k in zip(captions, classes)]
    high, low = CONFIDENCE_THRESHOLDS
    header = (
        f"{'bucket':<34} | {'clips':>5} | {'mean score':>10} | {'clip CIDEr-D':>12} | "
        f"{'right sound':>11} | {'wrong sound':>11}"
    )
    lines = [f"corpus CIDEr-D {corpus:.4f}", header, "-" * len(header)]
    lines.append(bucket_rows("all", list(range(len(results))), scores, per_clip, verdicts))
    silent = [i for i, r in enumerate(results) if r.silent]
    if silent:
        lines.append(f"(captioned 'silence': {len(silent)} clips)")
    lines.append("- by confidence level (the score's)")
    bounds = {"high": f"score >= {high}", "medium": f"{low} <= score < {high}", "low": f"score < {low}"}
    for level in CONFIDENCE_LEVELS:
        members = [i for i, r in enumerate(results) if r.confidence == level]
        lines.append(bucket_rows(f"  {level} ({bounds[level]})", members, scores, per_clip, verdicts))
    if any(r.audioset for r in results):
        lines.append("- by YAMNet's agreement with the caption's sound words")
        for name, value in (("  agrees", True), ("  disagrees", False), ("  cannot say", None)):
            members = [i for i, r in enumerate(results) if r.audioset_agrees is value and not r.silent]
            lines.append(bucket_rows(name, members, scores, per_clip, verdicts))
    else:
        lines.append("(YAMNet's weights are not present: no AudioSet agreement)")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="outputs/demo/student")
    parser.add_argument("--dataset", default="data/demo_quick")
    parser.add_argument("--split", default="test")
    parser.add_argument("--held-out", type=int, default=200, help="new clips of held-out recordings (0: none)")
    parser.add_argument("--ngram-sizes", default="0,1,2,3", help="no_repeat_ngram_size values to compare ('': none)")
    parser.add_argument("--calibration-split", default=None, help="print the score tertiles on this split")
    args = parser.parse_args(argv)

    import torch

    from effnet_trm.inference import Captioner

    torch.set_num_threads(2)
    captioner = Captioner.from_pretrained(args.model)
    print(
        f"model {args.model}: generation config no_repeat_ngram_size = "
        f"{captioner.model.generation_config.no_repeat_ngram_size}"
    )
    if args.calibration_split:
        waveforms, _, _ = load_sets(args.dataset, args.calibration_split, 0)[f"{args.calibration_split} split"]
        _, scores = caption_all(captioner, waveforms)
        tertiles = np.quantile(scores, [1 / 3, 2 / 3])
        print(f"\n{args.calibration_split}: {len(scores)} clips, score tertiles {tertiles.round(3).tolist()}")
    sizes = [int(s) for s in args.ngram_sizes.split(",") if s.strip()]
    for name, (waveforms, references, classes) in load_sets(args.dataset, args.split, args.held_out).items():
        print(f"\n## {name} ({len(waveforms)} clips)")
        if sizes:
            print("\n".join(repetition_table(captioner, waveforms, references, sizes)))
            print()
        print("\n".join(confidence_table(captioner, waveforms, references, classes)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
