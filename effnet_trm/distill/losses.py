"""The paper's losses (sections 2.1-2.2): supervised and sequence-level caption losses, and the two
encoder-level distillation losses (contrastive InfoNCE and MSE)."""

from __future__ import annotations

import math

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


def caption_loss(logits: torch.Tensor, labels: torch.Tensor, label_smoothing: float = 0.1) -> torch.Tensor:
    """Token cross-entropy with label smoothing over the non-ignored (-100) positions.

    L_sup on human captions and L_seq on the teacher's beam-search captions both use it.
    """
    return F.cross_entropy(
        logits.flatten(0, 1).float(), labels.flatten(), ignore_index=-100, label_smoothing=label_smoothing
    )


def gather_across_processes(local: torch.Tensor) -> torch.Tensor:
    """Every process's rows, in process order, so that a loss sees the whole global batch (its
    negatives included) on every process. Shares may differ in size (the last step of an epoch).

    As in open_clip, the other processes' rows are constants and the local rows are put back so their
    gradient flows. Every process then computes the same global loss; data parallelism averages the
    gradients over the N processes, so the local rows' gradient is scaled by N (their value is
    unchanged): the update then equals one process's on the global batch.
    """
    world, rank = dist.get_world_size(), dist.get_rank()
    sizes = [torch.zeros(1, dtype=torch.long, device=local.device) for _ in range(world)]
    dist.all_gather(sizes, torch.tensor([local.shape[0]], dtype=torch.long, device=local.device))
    largest = int(max(sizes))
    padded = local.new_zeros(largest, *local.shape[1:])
    padded[: local.shape[0]] = local.detach()
    gathered = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(gathered, padded)
    rows = [tensor[: int(size)] for tensor, size in zip(gathered, sizes)]
    rows[rank] = local * world - local.detach() * (world - 1)
    return torch.cat(rows)


class ContrastiveDistillationHead(nn.Module):
    """Symmetric InfoNCE between projected student and teacher clip embeddings (training only).

    Both sides are projected to `shared_dim` (student 1408 -> 1024, teacher 768 -> 1024 in the paper)
    and L2-normalised; the logits are `exp(logit_scale) * s @ t.T` with `logit_scale` learnable,
    initialised at log(1 / 0.07) and clamped so the scale stays <= 100, as in CLIP. (The authors'
    released code multiplies by `logit_scale` without exponentiating; the issue follows CLIP.)
    With `global_batch` (several processes), the negatives are the whole global batch
    (`gather_across_processes`).
    """

    def __init__(
        self,
        student_dim: int,
        teacher_dim: int,
        shared_dim: int = 1024,
        init_temperature: float = 0.07,
        max_scale: float = 100.0,
        global_batch: bool = False,
    ):
        super().__init__()
        self.global_batch = global_batch
        self.stdnt_proj = nn.Linear(student_dim, shared_dim)
        self.tchr_proj = nn.Linear(teacher_dim, shared_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / init_temperature)))
        self.max_log_scale = math.log(max_scale)

    def forward(self, student_clip: torch.Tensor, teacher_clip: torch.Tensor) -> torch.Tensor:
        student = F.normalize(self.stdnt_proj(student_clip), dim=-1)
        teacher = F.normalize(self.tchr_proj(teacher_clip.to(student_clip.dtype)), dim=-1)
        if self.global_batch:
            student, teacher = gather_across_processes(student), gather_across_processes(teacher)
        scale = self.logit_scale.clamp(max=self.max_log_scale).exp()
        logits = scale * student @ teacher.T
        targets = torch.arange(logits.shape[0], device=logits.device)
        return 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets))


def mse_distillation_loss(student_projected_clip: torch.Tensor, teacher_clip: torch.Tensor) -> torch.Tensor:
    """MSE between the student's projected clip embedding (the projection stays in the inference model
    and feeds the decoder) and the unprojected teacher embedding."""
    return F.mse_loss(student_projected_clip, teacher_clip.to(student_projected_clip.dtype))
