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
so it is measured here without changing how any model decodes.
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
from unseen_sources import fold_scores  # noqa: E402 - its scoring

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


def decode_fold(model_dir: Path, corpus_dir: Path, penalties: list[float]) -> dict:
    """`{split: {penalty: fold_scores and captions}}` for one fold's model on its own corpus."""
    from datasets import load_from_disk

    from effnet_trm.evaluation.runner import caption_split
    from effnet_trm.inference import Captioner

    corpus = load_from_disk(str(corpus_dir))
    train = corpus["train"]
    # transformers' generate: the fast search does not take logits processors
    captioner = Captioner.from_pretrained(str(model_dir), fast_search=False, audioset=False)
    allowed = allowed_pairs(
        captioner.tokenizer, (c for clip in train["captions"] for c in clip), captioner.config.vocab_size
    )
    result: dict = {}
    for split in SPLITS:
        for penalty in penalties:
            kwargs = {"logits_processor": LogitsProcessorList([UnseenWordPairPenalty(allowed, penalty)])}
            captions = caption_split(captioner, corpus[split], progress=False, **(kwargs if penalty else {}))
            scores = fold_scores(captions, corpus[split], train)
            result.setdefault(split, {})[str(penalty)] = {**scores, "captions": captions}
    return result


def mean(runs: list[dict], split: str, penalty: str, key: str) -> float:
    return statistics.fmean(run[split][penalty][key] for run in runs)


def print_table(results: dict[str, list[dict]], penalties: list[float]) -> None:
    """Per model and penalty, means over the folds: validation CIDEr-D, then test CIDEr-D, distinct
    captions and captions with an unseen pair; `*` marks the penalty chosen on validation."""
    print(
        f"\n{'model':26s} {'penalty':>7s} {'valid CIDEr-D':>13s} {'test CIDEr-D':>12s} {'distinct':>8s} "
        f"{'unseen pairs':>12s}  (means over folds, per 40 clips)"
    )
    for model, runs in results.items():
        if not runs:
            continue
        chosen = max(map(str, penalties), key=lambda p: mean(runs, "validation", p, "cider_d"))
        for penalty in map(str, penalties):
            mark = "*" if penalty == chosen else " "
            validation, test = mean(runs, "validation", penalty, "cider_d"), mean(runs, "test", penalty, "cider_d")
            distinct = mean(runs, "test", penalty, "distinct_captions")
            slips = mean(runs, "test", penalty, "unseen_word_pair_captions")
            print(f"{model:26s} {penalty:>6s}{mark} {validation:13.3f} {test:12.3f} {distinct:8.1f} {slips:12.1f}")
        print(f"{'':26s} folds: {len(runs)}")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="outputs/unseen_sources", help="benchmarks/unseen_sources.py's --out")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument(
        "--penalties", type=float, nargs="+", default=[0.0, 1.0, 2.0, math.inf], help="0: the model's own decoding"
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    found = [
        (model_dir, corpus)
        for _, model_dir, corpus in fold_models(Path(args.out))
        if corpus.parent.name.endswith(f"_seed{args.seed}") and model_dir.parent.name in args.models
    ]
    if not found:
        raise SystemExit(f"no finished fold of seed {args.seed} in {args.out}: run benchmarks/unseen_sources.py first")
    results: dict[str, list[dict]] = {model: [] for model in args.models}
    for model_dir, corpus in found:
        run = decode_fold(model_dir, corpus, args.penalties)
        results[model_dir.parent.name].append(run)
        (model_dir.parent / "word_pair_decoding.json").write_text(json.dumps(run, indent=1))
        test = {penalty: round(scores["cider_d"], 3) for penalty, scores in run["test"].items()}
        print(f"{corpus.parent.name} / {model_dir.parent.name}: test CIDEr-D by penalty {test}", flush=True)
    print_table(results, args.penalties)
    return 0


if __name__ == "__main__":
    sys.exit(main())
