"""What distillation needs from a teacher, whatever its architecture.

A teacher takes waveforms at its own sampling rate (the data pipeline resamples once for it) and
gives clip embeddings (for encoder-level KD), optionally frame embeddings, and beam-search captions
(for sequence-level KD): the top beam, or every beam with its score plus optional sampled captions
(n-best sequence KD draws one of them per step).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class TeacherEmbeddings:
    """`clip` (batch, dim); `frames` (batch, time, dim) and its `frame_mask` when the teacher has them."""

    clip: torch.Tensor
    frames: torch.Tensor | None = None
    frame_mask: torch.Tensor | None = None


@dataclass(frozen=True)
class Hypothesis:
    """One of a clip's captions by the teacher."""

    text: str
    score: float  #: the teacher's length-normalised log-probability of it (beam search's sequence score)
    source: str = "beam"  #: "beam" or "sample"


class Teacher(ABC):
    """The interface `train_distill.py` and the teacher cache use."""

    #: Sampling rate (Hz) of the waveforms the teacher takes.
    sampling_rate: int
    #: Size of `TeacherEmbeddings.clip`.
    embedding_dim: int
    #: Longest clip (samples) the teacher takes at once; None when there is no limit.
    max_samples: int | None = None

    @abstractmethod
    def embed(self, waveforms: Sequence[np.ndarray]) -> TeacherEmbeddings:
        """Embeddings of mono waveforms at `sampling_rate`."""

    @abstractmethod
    def caption(self, waveforms: Sequence[np.ndarray], num_beams: int = 3, max_length: int = 30) -> list[str]:
        """Beam-search captions of mono waveforms at `sampling_rate`."""

    def embed_and_caption(
        self, waveforms: Sequence[np.ndarray], num_beams: int = 3
    ) -> tuple[TeacherEmbeddings, list[str]]:
        """Both at once; teachers that can share the encoder pass override this."""
        return self.embed(waveforms), self.caption(waveforms, num_beams=num_beams)

    def embed_and_hypotheses(
        self, waveforms: Sequence[np.ndarray], num_beams: int = 3, num_samples: int = 0
    ) -> tuple[TeacherEmbeddings, list[list[Hypothesis]]]:
        """Embeddings and, per clip, every beam (best first) then `num_samples` sampled captions, scored.

        This default knows only the top beam (score 0); teachers with access to their search override it.
        """
        embeddings, captions = self.embed_and_caption(waveforms, num_beams=num_beams)
        return embeddings, [[Hypothesis(caption, 0.0)] for caption in captions]
