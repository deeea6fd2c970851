"""The paper's losses (sections 2.1-2.2): supervised and sequence-level caption losses, and the two
encoder-level distillation losses (contrastive InfoNCE and MSE)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def caption_loss(logits: torch.Tensor, labels: torch.Tensor, label_smoothing: float = 0.1) -> torch.Tensor:
    """Token cross-entropy with label smoothing over the non-ignored (-100) positions.

    L_sup on human captions and L_seq on the teacher's beam-search captions both use it.
    """
    return F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=-100,
                           label_smoothing=label_smoothing)


class ContrastiveDistillationHead(nn.Module):
    """Symmetric InfoNCE between projected student and teacher clip embeddings (training only).

    Both sides are projected to `shared_dim` (student 1408 -> 1024, teacher 768 -> 1024 in the paper)
    and L2-normalised; the logits are `exp(logit_scale) * s @ t.T` with `logit_scale` learnable,
    initialised at log(1 / 0.07) and clamped so the scale stays <= 100, as in CLIP. (The authors'
    released code multiplies by `logit_scale` without exponentiating; the issue follows CLIP.)
    """

    def __init__(self, student_dim: int, teacher_dim: int, shared_dim: int = 1024, init_temperature: float = 0.07,
                 max_scale: float = 100.0):
        super().__init__()
        self.stdnt_proj = nn.Linear(student_dim, shared_dim)
        self.tchr_proj = nn.Linear(teacher_dim, shared_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / init_temperature)))
        self.max_log_scale = math.log(max_scale)

    def forward(self, student_clip: torch.Tensor, teacher_clip: torch.Tensor) -> torch.Tensor:
        student = F.normalize(self.stdnt_proj(student_clip), dim=-1)
        teacher = F.normalize(self.tchr_proj(teacher_clip.to(student_clip.dtype)), dim=-1)
        scale = self.logit_scale.clamp(max=self.max_log_scale).exp()
        logits = scale * student @ teacher.T
        targets = torch.arange(logits.shape[0], device=logits.device)
        return 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets))


def mse_distillation_loss(student_projected_clip: torch.Tensor, teacher_clip: torch.Tensor) -> torch.Tensor:
    """MSE between the student's projected clip embedding (the projection stays in the inference model
    and feeds the decoder) and the unprojected teacher embedding."""
    return F.mse_loss(student_projected_clip, teacher_clip.to(student_projected_clip.dtype))
