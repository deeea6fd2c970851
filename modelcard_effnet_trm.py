"""The model card (README.md) of a saved EffNet-Trm folder, written by `save_pretrained` and `push_to_hub`.

The card is rendered from the model's config and from `model_card.json` in the same folder: the facts
that are not in the weights (training data and its licences, training details, measured figures). A
figure that was not measured is written as "not measured"; nothing is filled in. `update_model_card`
adds facts to a saved folder (e.g. test scores computed after training) and renders the card again.

This file is model code (loaded with `trust_remote_code=True`): it imports only installed packages.
"""

from __future__ import annotations

import json
from pathlib import Path

from huggingface_hub import EvalResult, ModelCardData

#: The facts of a card that are not in the config, saved beside it.
CARD_DATA_FILE = "model_card.json"
#: The Hub has no audio-captioning pipeline; audio-text-to-text is its task for audio in, free text out.
PIPELINE_TAG = "audio-text-to-text"
#: The `model-index` task of every result.
TASK = {"type": "audio-captioning", "name": "Audio Captioning"}
#: The evaluations the card reports, in order, with a title; missing ones are "not measured".
REQUIRED_RESULTS = {
    "demo": "demo corpus, test split",
    "held_out_source": "held-out sources (recordings of sources never heard in training)",
}
#: Display names of the caption metrics (`effnet_trm.evaluation.metrics` names).
METRIC_NAMES = {
    "bleu_1": "BLEU-1",
    "bleu_2": "BLEU-2",
    "bleu_3": "BLEU-3",
    "bleu_4": "BLEU-4",
    "meteor": "METEOR",
    "rouge_l": "ROUGE-L",
    "cider_d": "CIDEr-D",
    "spice": "SPICE",
    "spider": "SPIDEr",
    "fense": "FENSE",
    "sbert_sim_minilm": "SBERT similarity (MiniLM)",
}
CITATION = """@inproceedings{xu2024efficient,
  title     = {Efficient Audio Captioning with Encoder-Level Knowledge Distillation},
  author    = {Xu, Xuenan and Liu, Haohe and Wu, Mengyue and Wang, Wenwu and Plumbley, Mark D.},
  booktitle = {Proc. Interspeech},
  year      = {2024},
  note      = {arXiv:2407.14329}
}"""


def read_card_data(folder: str | Path | None) -> dict:
    """The card facts saved in `folder` (empty when there are none or `folder` is not a local folder)."""
    if folder is None:
        return {}
    path = Path(folder) / CARD_DATA_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _metadata(config, data: dict) -> ModelCardData:
    eval_results = []
    for key, result in _results(data).items():
        for metric, value in result.get("metrics", {}).items():
            eval_results.append(
                EvalResult(
                    task_type=TASK["type"],
                    task_name=TASK["name"],
                    dataset_type=result.get("dataset_type", key),
                    dataset_name=result.get("dataset_name", REQUIRED_RESULTS.get(key, key)),
                    dataset_split=result.get("split"),
                    metric_type=metric,
                    metric_name=METRIC_NAMES.get(metric, metric),
                    metric_value=round(float(value), 4),
                )
            )
    return ModelCardData(
        language=["en"],
        license=data.get("license", "apache-2.0"),
        library_name="transformers",
        pipeline_tag=PIPELINE_TAG,
        tags=["audio-captioning", "audio", "knowledge-distillation", "effnet-trm", "custom_code"],
        datasets=data.get("datasets"),
        metrics=["bleu", "meteor", "rouge", "cider"],
        model_name=data.get("model_name", "EffNet-Trm audio captioner"),
        eval_results=eval_results or None,
    )


def _results(data: dict) -> dict:
    """The measured results by key; an entry without metrics does not count as measured."""
    return {key: value for key, value in (data.get("results") or {}).items() if value and value.get("metrics")}


def _format(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _evaluation_section(data: dict) -> str:
    results = _results(data)
    lines = ["## Evaluation", ""]
    for key in [*REQUIRED_RESULTS, *(k for k in results if k not in REQUIRED_RESULTS)]:
        title = REQUIRED_RESULTS.get(key, key)
        result = results.get(key)
        if result is None:
            lines += [f"- **{title}**: not measured.", ""]
            continue
        described = result.get("description")
        lines += [f"**{result.get('dataset_name', title)}**" + (f": {described}" if described else ""), ""]
        lines += ["| metric | score |", "|---|---|"]
        lines += [f"| {METRIC_NAMES.get(m, m)} | {_format(v)} |" for m, v in result["metrics"].items()]
        if "distinct_captions" in result:
            of = f" of {result['clips']}" if "clips" in result else ""
            lines.append(f"| distinct captions | {result['distinct_captions']}{of} |")
        lines.append("")
    return "\n".join(lines)


def _training_data_section(data: dict) -> str:
    training = data.get("training_data")
    if not training:
        return "## Training data\n\nNot recorded: this folder was saved without training metadata (e.g. untrained).\n"
    lines = ["## Training data", "", training.get("description", training.get("name", ""))]
    licences = training.get("licenses")
    if licences:
        lines += ["", "Licences of the training recordings (each keeps its own):", ""]
        lines += [f"- {licence}" for licence in licences]
    return "\n".join(lines) + "\n"


def _longest_clip(config, data: dict) -> str:
    seconds = data.get("longest_clip_seconds")
    known = f"{seconds:g} s (the longest training clip)" if seconds else "not recorded"
    return (
        f"- Longest clip captioned in one pass: {known}; a caption has at most {config.max_position_embeddings} "
        "tokens (`config.max_position_embeddings`). Caption longer recordings in chunks: "
        "`pipeline(..., chunk_length_s=10)` gives one timestamped caption per 10 s, in bounded memory."
    )


def render_model_card(config, data: dict | None = None) -> str:
    """README.md for a model folder: YAML metadata the Hub reads (`pipeline_tag`, `library_name`, licence,
    `model-index` of the measured results) and the card text."""
    data = data or {}
    metadata = _metadata(config, data).to_yaml()
    vocabulary = f"{config.vocab_size:,}-word vocabulary"
    encoder = config.encoder_name.replace("_", "-")
    parts = [
        f"---\n{metadata}\n---\n",
        f"# {data.get('model_name', 'EffNet-Trm audio captioner')}\n",
        f"An audio captioner: a {config.sampling_rate // 1000} kHz mono clip in, one English sentence out. "
        f"EffNet-Trm (Xu et al., Interspeech 2024): a {config.n_mels}-bin log-mel spectrogram, an {encoder} "
        f"encoder and a {config.decoder_layers}-layer Transformer decoder over a {vocabulary}. "
        "The model code ships in this repository (`trust_remote_code=True`).\n",
        "## Usage\n",
        "```python\n"
        "from transformers import AutoModel, AutoProcessor, pipeline\n\n"
        "processor = AutoProcessor.from_pretrained(MODEL, trust_remote_code=True)\n"
        "model = AutoModel.from_pretrained(MODEL, trust_remote_code=True)\n"
        "inputs = processor([waveform_a, waveform_b], sampling_rate=44100)  # resampled, padded, masked\n"
        "captions = processor.batch_decode(model.generate(**inputs), skip_special_tokens=True)\n\n"
        "captioner = pipeline(model=MODEL, trust_remote_code=True)\n"
        'captioner("long_recording.wav", chunk_length_s=10)  # {"generated_text", "chunks": [timestamped captions]}\n'
        "```\n",
        "## Input\n",
        f"- Sample rate: {config.sampling_rate} Hz, mono. The processor and the pipeline resample other rates "
        "(soxr); the feature extractor alone refuses them.",
        _longest_clip(config, data) + "\n",
        "## Intended use and limits\n",
        "- Intended for: describing everyday sound events and scenes in short English sentences (search, "
        "tagging, accessibility drafts), on CPU or GPU.\n"
        "- Not for: speech transcription (it does not transcribe words), music description, or decisions about "
        "people (surveillance, diagnosis). Captions can be wrong or generic; a person should check them where "
        "it matters.\n"
        f"- It only writes words of its {vocabulary}; sounds unlike its training data get captions of the "
        "nearest sounds it knows.\n",
        _training_data_section(data),
    ]
    if data.get("training_details"):
        parts.append("## Training\n\n" + data["training_details"].strip() + "\n")
    parts += [_evaluation_section(data), "## Citation\n", f"```bibtex\n{CITATION}\n```\n"]
    return "\n".join(parts)


def write_model_card(folder: str | Path, config, data: dict | None = None) -> Path:
    """Write `model_card.json` (when there are facts) and README.md into `folder`."""
    folder = Path(folder)
    if data:
        (folder / CARD_DATA_FILE).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    path = folder / "README.md"
    path.write_text(render_model_card(config, data), encoding="utf-8")
    return path


def update_model_card(folder: str | Path, config=None, **facts) -> Path:
    """Add `facts` (e.g. `results={"demo": {...}}`, `training_data=...`) to a saved folder's card data and
    render its README.md again. `results` entries are merged by key; other facts replace earlier ones."""
    folder = Path(folder)
    if config is None:
        try:
            from .configuration_effnet_trm import EffNetTrmConfig
        except ImportError:
            from configuration_effnet_trm import EffNetTrmConfig
        config = EffNetTrmConfig.from_pretrained(folder)
    data = read_card_data(folder)
    if "results" in facts:
        facts["results"] = {**(data.get("results") or {}), **facts["results"]}
    return write_model_card(folder, config, {**data, **facts})
