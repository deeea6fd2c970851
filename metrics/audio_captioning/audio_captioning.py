"""Audio captioning metrics (BLEU-1..4, METEOR, ROUGE-L, CIDEr-D, SPICE, SPIDEr, SPIDEr-FL, FENSE and an
offline all-MiniLM-L6-v2 similarity) for the `evaluate` library, computed by effnet_trm's aac-metrics wrapper.

    import evaluate
    metric = evaluate.load("metrics/audio_captioning")
    metric.compute(predictions=["a dog barks"], references=[["a dog is barking", "a dog barks loudly"]])
"""

import datasets
import evaluate

from effnet_trm.evaluation.metrics import ALL_METRICS, compute_caption_metrics

_DESCRIPTION = __doc__
_KWARGS_DESCRIPTION = """
Args:
    predictions (list of str): one caption per clip.
    references (list of list of str): the reference captions of each clip.
    metrics (list of str, optional): subset of the metrics to compute (default: all).
Returns:
    dict: metric name -> corpus score, plus `unavailable`: metric name -> reason for those that could not run.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class AudioCaptioning(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Sequence(datasets.Value("string"))}
            ),
        )

    def _compute(self, predictions, references, metrics=ALL_METRICS):
        scores = compute_caption_metrics(predictions, references, metrics=metrics)
        return {**scores.corpus, "unavailable": scores.unavailable}
