"""`benchmarks/word_pair_decoding.py`: a fold's models decode again with the word pairs that no training
caption holds penalised; banned, every caption is made of training pairs only, and penalty 0 is the
model's own decoding."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch
from datasets import DatasetDict

from effnet_trm.evaluation.metrics import word_pairs
from effnet_trm.evaluation.runner import caption_split
from effnet_trm.hub import save_model_folder
from effnet_trm.inference import Captioner
from tests.test_repeat_block import _corpus
from tests.tiny_effnet_trm import tiny_model_and_tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

TRAINING_CAPTIONS = ["a dog barks", "rain falls on a roof"]  # what test_repeat_block's `_corpus` writes


def test_allowed_pairs_hold_the_training_captions_from_bos_to_eos():
    from word_pair_decoding import allowed_pairs

    _, tokenizer = tiny_model_and_tokenizer()
    allowed = allowed_pairs(tokenizer, ["a dog barks"], len(tokenizer))
    bos, a, dog, barks, eos = tokenizer("a dog barks")["input_ids"]
    assert {tuple(pair) for pair in allowed.nonzero().tolist()} == {(bos, a), (a, dog), (dog, barks), (barks, eos)}


def test_the_penalty_lowers_only_unseen_pairs_and_inf_bans_them():
    from word_pair_decoding import UnseenWordPairPenalty

    allowed = torch.zeros(4, 4, dtype=torch.bool)
    allowed[1, 2] = True
    scores = torch.zeros(2, 4)
    last = torch.tensor([[0, 1], [0, 3]])
    assert UnseenWordPairPenalty(allowed, 2.0)(last, scores).tolist() == [[-2, -2, 0, -2], [-2, -2, -2, -2]]
    banned = UnseenWordPairPenalty(allowed, math.inf)(last, scores)
    assert banned[0].isfinite().tolist() == [False, False, True, False] and not banned[1].isfinite().any()


def test_banned_unseen_pairs_leave_only_training_pairs_and_penalty_0_is_the_models_own(tmp_path):
    from word_pair_decoding import decode_fold

    model, tokenizer = tiny_model_and_tokenizer(seed=0)
    fold = tmp_path / "pkg_seed0"
    save_model_folder(model, tokenizer, fold / "student" / "model")
    corpus = DatasetDict(
        {
            "train": _corpus([200.0, 400.0]),
            "validation": _corpus([300.0, 500.0, 700.0]),
            "test": _corpus([900.0, 1100.0, 1300.0]),
        }
    )
    corpus.save_to_disk(str(fold / "corpus"))

    results = decode_fold(fold / "student" / "model", fold / "corpus", [0.0, math.inf])
    known = word_pairs(TRAINING_CAPTIONS)
    own = Captioner.from_pretrained(str(fold / "student" / "model"), audioset=False)
    for split, rows in (("validation", corpus["validation"]), ("test", corpus["test"])):
        plain, banned = results[split]["0.0"], results[split]["inf"]
        assert plain["captions"] == caption_split(own, rows, progress=False)  # the fast search, the same captions
        assert all(word_pairs([caption]) <= known for caption in banned["captions"])
        assert banned["unseen_word_pair_captions"] == 0
    # a random tiny model joins words at random: the ban has something to do
    assert sum(results[split]["0.0"]["unseen_word_pair_captions"] for split in ("validation", "test")) > 0
    # a rerun keeps what an earlier run decoded: no model is even loaded
    again = decode_fold(tmp_path / "no model here", fold / "corpus", [0.0, math.inf], done=results)
    assert again["test"]["inf"]["captions"] == results["test"]["inf"]["captions"]
    assert again["test"]["inf"]["ceiling"] == 1  # one sound combination: every clip holds the dog alone
