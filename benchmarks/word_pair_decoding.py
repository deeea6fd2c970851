#!/usr/bin/env python
"""Decoding with the word pairs of the training captions: does it help on sources no training heard?

    python benchmarks/word_pair_decoding.py                      # the folds benchmarks/unseen_sources.py left
    python benchmarks/word_pair_decoding.py --penalties 0 1 inf  # which penalties to try

On a held-out source a student joins words that no training caption joins ("a is struck", "someone
walks on a person grunts"): `benchmarks/unseen_sources.py` counts such captions. This benchmark decodes
each finished fold's models again (`--out`, as that script left them) with every adjacent word pair
outside the fold's training captions penalised: its log-probability lowered by the penalty, `inf`
bans it (then every caption is made of training word pairs only). Penalty 0 is the model's own
decoding. Each model's penalty is chosen on the folds' validation splits (mean CIDEr-D), and only then
read on their test splits, the held-out sources.

The penalty is a `LogitsProcessor` given to `generate` (beam 3, the models' own generation config),
so it is measured here without changing how any model decodes. Each model's decodes are kept in its
folder (`word_pair_decoding.json`), and a rerun decodes only the penalties missing there. Results:
docs/unseen-sources.md ("Decoding with the training captions' word pairs").
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

import torch
from transformers import LogitsProcessor, LogitsProcessorList

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from repeat_block import fold_models  # noqa: E402 - the finished students of the held-out-source benchmark
from unseen_sources import fold_scores, sound_combinations  # noqa: E402 - its scoring

MODELS = ("student", "supervised", "student (frozen encoder)", "scratch")
SPLITS = ("validation", "test")


class UnseenWordPairPenalty(LogitsProcessor):
    """Lowers the log-probability of every next token that would follow the last one in a pair that
    `allowed` (`(vocab, vocab)` bool, previous token -> next token) does not hold; `inf` bans it."""

    def __init__(self, allowed: torch.Tensor, penalty: float):
        self.allowed = allowed
        self.penalty = penalty

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        unseen = ~self.allowed.to(scores.device)[input_ids[:, -1]]
        if math.isinf(self.penalty):
            return scores.masked_fill(unseen, -math.inf)
        return scores - self.penalty * unseen.to(scores.dtype)


def allowed_pairs(tokenizer, captions, vocab_size: int) -> torch.Tensor:
    """`(vocab, vocab)` bool: the token pairs of `captions` as the tokenizer encodes them, `<bos>` before
    the first word and `<eos>` after the last included (so a caption starts and ends as one did)."""
    allowed = torch.zeros(vocab_size, vocab_size, dtype=torch.bool)
    for ids in tokenizer(list(captions))["input_ids"]:
        allowed[ids[:-1], ids[1:]] = True
    return allowed


def decode_fold(model_dir: Path, corpus_dir: Path, penalties: list[float], done: dict | None = None) -> dict:
    """`{split: {penalty: fold_scores, the split's distinct-caption ceiling and the captions}}` for one
    fold's model on its own corpus; the penalties that `done` (an earlier run's result) holds are kept."""
    from datasets import load_from_disk

    from effnet_trm.evaluation.runner import caption_split
    from effnet_trm.inference import Captioner

    corpus = load_from_disk(str(corpus_dir))
    train = corpus["train"]
    result: dict = {split: dict((done or {}).get(split, {})) for split in SPLITS}
    captioner = allowed = None
    for split in SPLITS:
        ceiling = sound_combinations(corpus[split])
        for penalty in map(str, penalties):
            if penalty in result[split]:
                result[split][penalty]["ceiling"] = ceiling
                continue
            if captioner is None:  # transformers' generate: the fast search does not take logits processors
                captioner = Captioner.from_pretrained(str(model_dir), fast_search=False, audioset=False)
                captions = (c for clip in train["captions"] for c in clip)
                allowed = allowed_pairs(captioner.tokenizer, captions, captioner.config.vocab_size)
            processor = UnseenWordPairPenalty(allowed, float(penalty))
            kwargs = {"logits_processor": LogitsProcessorList([processor])} if float(penalty) else {}
            captions = caption_split(captioner, corpus[split], progress=False, **kwargs)
            result[split][penalty] = {**fold_scores(captions, corpus[split], train), "ceiling": ceiling}
            result[split][penalty]["captions"] = captions
    return result


def mean(runs: list[dict], split: str, penalty: str, key: str) -> float:
    return statistics.fmean(run[split][penalty][key] for run in runs)


def half_the_ceiling(runs: list[dict], penalty: str) -> int:
    """On how many held-out sources a model says at least half as many distinct captions as there are
    sound combinations (the issue's goal: every one)."""
    return sum(2 * run["test"][penalty]["distinct_captions"] >= run["test"][penalty]["ceiling"] for run in runs)


def print_table(results: dict[str, list[dict]], penalties: list[float]) -> None:
    """Per model and penalty, means over the folds (validation, then the held-out test split): CIDEr-D,
    distinct captions, the sources at half the ceiling's distinct captions and the captions with an
    unseen pair; `*` marks the penalty chosen on validation CIDEr-D."""
    header = ("valid CIDEr-D", "valid distinct", "test CIDEr-D", "test distinct", "half ceiling", "unseen pairs")
    print(f"\n{'model':26s} {'penalty':>7s} " + " ".join(f"{h:>14s}" for h in header) + "  (means over folds)")
    for model, runs in results.items():
        if not runs:
            continue
        chosen = max(map(str, penalties), key=lambda p: mean(runs, "validation", p, "cider_d"))
        for penalty in map(str, penalties):
            cells = [
                f"{mean(runs, 'validation', penalty, 'cider_d'):.3f}",
                f"{mean(runs, 'validation', penalty, 'distinct_captions'):.1f}",
                f"{mean(runs, 'test', penalty, 'cider_d'):.3f}",
                f"{mean(runs, 'test', penalty, 'distinct_captions'):.1f}",
                f"{half_the_ceiling(runs, penalty)} of {len(runs)}",
                f"{mean(runs, 'test', penalty, 'unseen_word_pair_captions'):.1f}",
            ]
            mark = "*" if penalty == chosen else " "
            print(f"{model:26s} {penalty:>6s}{mark} " + " ".join(f"{c:>14s}" for c in cells))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="outputs/unseen_sources", help="benchmarks/unseen_sources.py's --out")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--sources", nargs="+", help="held-out sources (default: every finished fold)")
    parser.add_argument(
        "--penalties", type=float, nargs="+", default=[0.0, 1.0, 2.0, math.inf], help="0: the model's own decoding"
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    found = [
        (model_dir, corpus)
        for _, model_dir, corpus in fold_models(Path(args.out))
        if corpus.parent.name.endswith(f"_seed{args.seed}")
        and model_dir.parent.name in args.models
        and (not args.sources or corpus.parent.name.removesuffix(f"_seed{args.seed}") in args.sources)
    ]
    if not found:
        raise SystemExit(f"no finished fold of seed {args.seed} in {args.out}: run benchmarks/unseen_sources.py first")
    results: dict[str, list[dict]] = {model: [] for model in args.models}
    wanted = {str(penalty) for penalty in args.penalties}
    for model_dir, corpus in found:
        stored = model_dir.parent / "word_pair_decoding.json"  # a rerun decodes only what is missing
        run = decode_fold(
            model_dir, corpus, args.penalties, json.loads(stored.read_text()) if stored.exists() else None
        )
        stored.write_text(json.dumps(run, indent=1))
        results[model_dir.parent.name].append(run)
        for split in SPLITS:
            cells = ", ".join(
                f"{penalty}: {scores['cider_d']:.3f} ({scores['distinct_captions']} of {scores['ceiling']})"
                for penalty, scores in run[split].items()
                if penalty in wanted
            )
            print(f"{corpus.parent.name} / {model_dir.parent.name}, {split} CIDEr-D (distinct) by penalty: {cells}")
    print_table(results, args.penalties)
    return 0


if __name__ == "__main__":
    sys.exit(main())
