"""`benchmarks/repeat_block.py`: each model captions a corpus with the repeat block off and on, and the
counts of captions that say a word twice in a row are what the captions hold."""

from __future__ import annotations

import sys
from pathlib import Path

from datasets import DatasetDict

from effnet_trm.data.io import rows_to_dataset
from effnet_trm.evaluation.metrics import says_a_word_twice
from effnet_trm.hub import save_model_folder
from tests.test_data_corpus import wav_bytes
from tests.tiny_effnet_trm import tiny_model_and_tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def test_says_a_word_twice():
    assert says_a_word_twice("a car car honks") and says_a_word_twice("A dog DOG barks")
    assert not says_a_word_twice("a dog barks and a cat meows")  # a word again, not in a row
    assert not says_a_word_twice("") and not says_a_word_twice("rain")


def _corpus(frequencies: list[float]):
    rows = [
        {
            "audio": {"bytes": wav_bytes(1.0, frequency=f, rate=16000), "path": f"{i}.wav"},
            "captions": ["a dog barks", "rain falls on a roof"],
            "audio_id": f"clip-{i}",
            "classes": ["dog"],
            "source": f"pkg/{i}.wav",
            "license": "CC0-1.0",
        }
        for i, f in enumerate(frequencies)
    ]
    return rows_to_dataset(rows)


def test_the_block_leaves_no_word_twice_in_a_row(tmp_path):
    import repeat_block

    model, tokenizer = tiny_model_and_tokenizer(seed=0)
    fold = tmp_path / "folds" / "pkg_seed0"
    save_model_folder(model, tokenizer, fold / "student" / "model")
    (fold / "student" / "test_scores.json").write_text("{}")
    save_model_folder(model, tokenizer, fold / "unfinished" / "model")  # no scores: not a finished run
    corpus = DatasetDict({"validation": _corpus([300.0, 500.0, 700.0]), "test": _corpus([900.0, 1100.0])})
    corpus.save_to_disk(str(fold / "corpus"))

    found = repeat_block.fold_models(tmp_path / "folds")
    assert [label for label, _, _ in found] == ["pkg_seed0: student"]
    results = repeat_block.measure(found[0][1], found[0][2])
    assert set(results) == {"validation", "test"}
    # a random tiny model repeats itself; blocked, it never says a word twice in a row
    assert results["validation"]["off"]["stuttering_captions"] + results["test"]["off"]["stuttering_captions"] > 0
    assert results["validation"]["on"]["stuttering_captions"] == results["test"]["on"]["stuttering_captions"] == 0
    assert all(0.0 <= r[s]["cider_d"] for r in results.values() for s in ("off", "on"))
