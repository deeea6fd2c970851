"""The model card: written by `save_pretrained` (and so by `push_to_hub`), with the YAML the Hub reads
(`pipeline_tag`, `library_name`, licence, `model-index`), figures only where they were measured."""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from tiny_effnet_trm import tiny_model_and_tokenizer

from effnet_trm.hub import save_model_folder
from modelcard_effnet_trm import CARD_DATA_FILE, PIPELINE_TAG, render_model_card, update_model_card
from modeling_effnet_trm import EffNetTrmForAudioCaptioning

#: Task ids the Hub accepts as `pipeline_tag` for audio (huggingface.js `packages/tasks/src/pipelines.ts`).
HUB_AUDIO_PIPELINE_TAGS = {
    "audio-classification",
    "audio-to-audio",
    "audio-text-to-text",
    "automatic-speech-recognition",
    "text-to-audio",
    "text-to-speech",
    "voice-activity-detection",
}
DEMO = {
    "dataset_name": "effnet-trm demo corpus (quick preset)",
    "dataset_type": "effnet-trm-demo",
    "split": "test",
    "metrics": {"cider_d": 0.998, "bleu_4": 0.4012},
    "distinct_captions": 26,
    "clips": 40,
}


def _front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


@pytest.fixture(scope="module")
def model_and_tokenizer():
    return tiny_model_and_tokenizer(seed=2)


def test_save_pretrained_writes_a_card_the_hub_reads(model_and_tokenizer, tmp_path):
    model, _ = model_and_tokenizer
    model.save_pretrained(tmp_path)
    card = (tmp_path / "README.md").read_text()
    meta = _front_matter(card)
    assert meta["pipeline_tag"] == PIPELINE_TAG and PIPELINE_TAG in HUB_AUDIO_PIPELINE_TAGS
    assert meta["library_name"] == "transformers" and meta["license"] == "apache-2.0"
    assert "model-index" not in meta  # nothing measured: no figures at all
    assert "demo corpus, test split**: not measured" in card and "held-out sources" in card
    assert card.count("not measured") == 2
    assert "Sample rate: 16000 Hz, mono" in card and "Longest clip captioned in one pass: not recorded" in card
    assert "## Intended use and limits" in card and "@inproceedings{xu2024efficient" in card
    assert "Training data\n\nNot recorded" in card
    from huggingface_hub import ModelCard

    assert ModelCard(card).data.pipeline_tag == PIPELINE_TAG  # huggingface_hub parses it too


def test_measured_figures_go_into_model_index_and_survive_a_reload(model_and_tokenizer, tmp_path):
    model, tokenizer = model_and_tokenizer
    facts = {
        "results": {"demo": DEMO},
        "training_data": {"name": "demo", "description": "The demo corpus.", "licenses": ["CC0-1.0", "GPL-2+"]},
        "longest_clip_seconds": 10.0,
    }
    save_model_folder(model, tokenizer, tmp_path / "a", card_data=facts)
    card = (tmp_path / "a" / "README.md").read_text()
    index = _front_matter(card)["model-index"][0]["results"]
    assert {r["task"]["type"] for r in index} == {"audio-captioning"}
    figures = {m["type"]: m["value"] for r in index for m in r["metrics"]}
    assert figures == {"cider_d": 0.998, "bleu_4": 0.4012}
    assert index[0]["dataset"] == {"name": DEMO["dataset_name"], "type": "effnet-trm-demo", "split": "test"}
    assert "| CIDEr-D | 0.9980 |" in card and "| distinct captions | 26 of 40 |" in card
    assert card.count("not measured") == 1  # the held-out-source figures
    assert "- CC0-1.0\n- GPL-2+" in card and "10 s (the longest training clip)" in card

    # a model loaded from the folder and saved again keeps its card
    reloaded = EffNetTrmForAudioCaptioning.from_pretrained(tmp_path / "a")
    reloaded.save_pretrained(tmp_path / "b")
    assert (tmp_path / "b" / "README.md").read_text() == card
    assert json.loads((tmp_path / "b" / CARD_DATA_FILE).read_text()) == facts


def test_update_model_card_adds_held_out_figures(model_and_tokenizer, tmp_path):
    model, tokenizer = model_and_tokenizer
    save_model_folder(model, tokenizer, tmp_path, card_data={"results": {"demo": DEMO}})
    held_out = {"dataset_name": "held-out sources", "split": "test", "metrics": {"cider_d": 0.5}}
    update_model_card(tmp_path, results={"held_out_source": held_out})
    card = (tmp_path / "README.md").read_text()
    assert "not measured" not in card
    values = [m["value"] for r in _front_matter(card)["model-index"][0]["results"] for m in r["metrics"]]
    assert values == [0.998, 0.4012, 0.5]


def test_push_to_hub_uploads_the_card(model_and_tokenizer, monkeypatch):
    import huggingface_hub

    model, _ = model_and_tokenizer
    uploaded = {}

    def create_repo(repo_id, **kwargs):
        return type("Repo", (), {"repo_id": f"someone/{repo_id}"})()

    def upload(self, folder, repo_id, **kwargs):
        from pathlib import Path

        uploaded.update({p.name: p.read_bytes() for p in Path(folder).iterdir()}, repo_id=repo_id)

    monkeypatch.setattr(huggingface_hub, "create_repo", create_repo)
    monkeypatch.setattr(EffNetTrmForAudioCaptioning, "_upload_modified_files", upload)
    model.push_to_hub("tiny-captioner", card_data={"results": {"demo": DEMO}})
    assert uploaded["repo_id"] == "someone/tiny-captioner"
    assert {"README.md", "model.safetensors", "modeling_effnet_trm.py", "modelcard_effnet_trm.py"} <= set(uploaded)
    card = uploaded["README.md"].decode()
    assert _front_matter(card)["model-index"][0]["results"][0]["metrics"][0]["value"] == 0.998


def test_card_describes_the_config(model_and_tokenizer):
    model, _ = model_and_tokenizer
    card = render_model_card(model.config, {"model_name": "tiny", "license": "cc-by-4.0"})
    meta = _front_matter(card)
    assert meta["license"] == "cc-by-4.0" and meta["model_name"] == "tiny"
    assert f"{model.config.vocab_size}-word vocabulary" in card and "test-efficientnet encoder" in card
    assert torch.is_tensor(model.lm_head.weight)


def test_training_data_licences_come_from_the_corpus(tmp_path):
    from datasets import Dataset, DatasetDict

    from effnet_trm.distill.config import DataConfig, DistillConfig
    from effnet_trm.distill.trainer import training_data_facts

    corpus = DatasetDict(
        train=Dataset.from_dict({"audio_id": ["a", "b"], "license": ["CC0-1.0|CC-BY-4.0", "GPL-2+"]}),
        pool=Dataset.from_dict({"audio_id": ["c"], "license": ["CC-BY-SA-3.0"]}),
    )
    corpus.save_to_disk(tmp_path / "corpus")
    data = DataConfig(dataset=str(tmp_path / "corpus"), audio_only_split="pool", teacher_cache="unused")
    config = DistillConfig(data=data)
    facts = training_data_facts(config)
    assert facts["licenses"] == ["CC-BY-4.0", "CC-BY-SA-3.0", "CC0-1.0", "GPL-2+"]
    assert "audio-only split `pool`" in facts["description"] and "not recorded" not in facts["description"]
    config.data.dataset = str(tmp_path / "missing")
    assert "Licences not recorded" in training_data_facts(config)["description"]
