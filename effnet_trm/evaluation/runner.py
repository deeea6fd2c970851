"""Scoring a model (or a predictions file) on a dataset split: captions, metrics, JSON + CSV + table."""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from .metrics import ALL_METRICS, CaptionScores, compute_caption_metrics

logger = logging.getLogger(__name__)


@dataclass
class Evaluation:
    audio_ids: list[str]
    predictions: list[str]
    references: list[list[str]]
    scores: CaptionScores


def load_split(dataset_dir: str, split: str, limit: int | None = None):
    from datasets import load_from_disk

    dataset = load_from_disk(dataset_dir)
    if split not in dataset:
        raise ValueError(f"{dataset_dir} has no split {split!r} (it has {', '.join(dataset)})")
    rows = dataset[split]
    return rows.select(range(min(limit, len(rows)))) if limit else rows


def caption_split(
    captioner,
    rows,
    batch_size: int = 8,
    progress: bool = True,
    failures: dict[str, str] | None = None,
    **generate_kwargs,
) -> list[str]:
    """Captions for every row of a split (beam 3 by default), batched, with a progress bar.

    A clip that cannot be decoded or captioned gets an empty prediction (it scores as a wrong caption)
    and is logged, and, when `failures` is given, recorded there as audio_id -> error; the other clips
    keep the captions they get alone (`Captioner.caption_each`).
    """
    from ..data import decode_audio
    from ..inference import one_line

    rate = captioner.sampling_rate
    predictions: list[str] = []
    failed: dict[str, str] = {}
    for start in tqdm(range(0, len(rows), batch_size), desc="captioning", unit="batch", disable=not progress):
        batch = rows[start : start + batch_size]
        waveforms: dict[int, object] = {}
        errors: dict[int, str] = {}
        for index, audio in enumerate(batch["audio"]):
            try:
                waveforms[index] = decode_audio(audio, rate)
            except Exception as error:  # noqa: BLE001 - one bad clip must not end the evaluation
                errors[index] = one_line(error)
        captions = (
            dict(zip(waveforms, captioner.caption_each(list(waveforms.values()), **generate_kwargs)))
            if waveforms
            else {}
        )
        for index, audio_id in enumerate(batch["audio_id"]):
            caption = captions.get(index)
            if isinstance(caption, Exception):
                errors[index] = one_line(caption)
            if index in errors:
                failed[str(audio_id)] = errors[index]
                logger.warning("clip %s: %s (scored as an empty caption)", audio_id, errors[index])
            predictions.append(caption if index not in errors else "")
    if failures is not None:
        failures.update(failed)
    return predictions


def read_predictions(path: str) -> dict[str, str]:
    """audio_id -> prediction from a CSV or JSON-lines file with `audio_id` and `prediction` fields."""
    text = Path(path).read_text(encoding="utf-8")
    if text.lstrip().startswith("["):  # a JSON array
        rows = json.loads(text)
    elif path.endswith((".jsonl", ".json")):
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    else:
        rows = list(csv.DictReader(text.splitlines()))
    try:
        return {str(row["audio_id"]): str(row["prediction"]) for row in rows}
    except KeyError as error:
        raise ValueError(f"{path}: every row needs 'audio_id' and 'prediction' fields (missing {error})") from None


def evaluate_split(
    rows,
    predictions: Sequence[str] | dict[str, str],
    metrics: Sequence[str] = ALL_METRICS,
) -> Evaluation:
    audio_ids = [str(a) for a in rows["audio_id"]]
    references = [list(r) for r in rows["captions"]]
    if isinstance(predictions, dict):
        missing = [a for a in audio_ids if a not in predictions]
        if missing:
            raise ValueError(f"no prediction for {len(missing)} clips, e.g. {missing[:3]}")
        predictions = [predictions[a] for a in audio_ids]
    scores = compute_caption_metrics(list(predictions), references, metrics=metrics)
    return Evaluation(audio_ids, list(predictions), references, scores)


def write_report(evaluation: Evaluation, out_dir: str | Path, extra: dict | None = None) -> tuple[Path, Path]:
    """`summary.json` (corpus scores, unavailable metrics with reasons) and `per_clip.csv` (one row per clip)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = out_dir / "summary.json"
    summary.write_text(json.dumps({**(extra or {}), **evaluation.scores.to_dict()}, indent=2) + "\n")
    per_clip = out_dir / "per_clip.csv"
    metric_names = list(evaluation.scores.per_clip)
    with per_clip.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["audio_id", "prediction", "references", *metric_names])
        for i, audio_id in enumerate(evaluation.audio_ids):
            writer.writerow(
                [
                    audio_id,
                    evaluation.predictions[i],
                    " | ".join(evaluation.references[i]),
                    *(f"{evaluation.scores.per_clip[name][i]:.4f}" for name in metric_names),
                ]
            )
    return summary, per_clip


def format_table(scores: CaptionScores) -> str:
    lines = [f"{'metric':<18} score", f"{'-' * 18} {'-' * 40}"]
    for name in ALL_METRICS:
        if name in scores.corpus:
            lines.append(f"{name:<18} {scores.corpus[name]:.4f}")
        elif name in scores.unavailable:
            reason = scores.unavailable[name]
            label = "unavailable" if reason.startswith("failed:") else "unavailable offline"
            lines.append(f"{name:<18} {label}: {reason}")
    return "\n".join(lines)
