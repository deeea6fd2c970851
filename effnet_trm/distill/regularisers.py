"""Training-only regularisers of the authors' configs (REFERENCE.md 3.5): SpecAugment on the student's
log-mel, scheduled sampling, and an average of the weights over the last epochs (SWA).

None of them lives in the model files: a saved model folder is the plain captioner, whatever was on
during training.
"""

from __future__ import annotations

import torch
from torch import nn


def add_spec_augment(
    student: nn.Module,
    time_drop_width: int = 64,
    time_stripes_num: int = 2,
    freq_drop_width: int = 8,
    freq_stripes_num: int = 2,
) -> nn.Module:
    """Mask random time and mel stripes of the student's log-mel (torchlibrosa's SpecAugmentation, the
    authors' settings) while its front end is in training mode; validation and saved models see the
    clean spectrogram.

    A forward hook on the front end, so the model file stays as it is. Returns the augmentation
    module: keep it as a submodule of the training module, so the hook lives as long as it does.
    """
    from torchlibrosa.augmentation import SpecAugmentation

    augment = SpecAugmentation(time_drop_width, time_stripes_num, freq_drop_width, freq_stripes_num)

    def mask_log_mel(front_end: nn.Module, args, log_mel: torch.Tensor) -> torch.Tensor:
        if not front_end.training:
            return log_mel
        # torchlibrosa takes (batch, channels, time, frequency) and writes zeros in place: work on a copy
        image = log_mel.transpose(1, 2).unsqueeze(1).clone()
        augment.train()
        return augment(image).squeeze(1).transpose(1, 2)

    student.encoder.front_end.register_forward_hook(mask_log_mel)
    return augment


def teacher_forcing_ratio(progress: float, final_ratio: float) -> float:
    """Linear schedule: every decoder input is the reference word at the start (1.0), `final_ratio`
    of them at the end of training (`progress` 0 -> 1)."""
    return 1.0 - (1.0 - final_ratio) * min(max(progress, 0.0), 1.0)


def scheduled_sampling_inputs(
    decoder_input_ids: torch.Tensor, logits: torch.Tensor, ratio: float, pad_token_id: int
) -> torch.Tensor:
    """Decoder inputs where each reference word (after the start token) is kept with probability
    `ratio` and otherwise replaced by the word the model predicted at that position in a first,
    teacher-forced pass (`logits`, greedy).

    The two-pass form of scheduled sampling (Mihaylova & Martins, 2019): the authors' runner decodes
    step by step instead, which the issue rules out for a Transformer on CPUs; both feed the model
    its own predictions at a growing share of the positions. Padding stays padding.
    """
    predicted = decoder_input_ids.clone()
    predicted[:, 1:] = logits[:, :-1].argmax(dim=-1)
    keep = torch.rand(decoder_input_ids.shape, device=decoder_input_ids.device) < ratio
    keep[:, 0] = True
    keep |= decoder_input_ids == pad_token_id
    return torch.where(keep, decoder_input_ids, predicted)


class WeightAverage:
    """The running mean of a model's weights, one snapshot per epoch (the authors' SWA, from
    `swa.start`). Floating-point tensors, batch-norm statistics included, are averaged; integer
    buffers (batch counts) keep their latest value. Checkpointed with the run
    (`accelerator.register_for_checkpointing`), so a resumed run averages the same snapshots.
    """

    def __init__(self):
        self.count = 0
        self.average: dict[str, torch.Tensor] | None = None

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        state = model.state_dict()
        if self.average is None:
            self.average = {k: v.detach().to("cpu", copy=True) for k, v in state.items()}
        else:
            for key, value in state.items():
                value = value.detach().cpu()
                if value.is_floating_point():
                    self.average[key] += (value - self.average[key]) / (self.count + 1)
                else:
                    self.average[key] = value.clone()
        self.count += 1

    def averaged_copy(self, model: nn.Module) -> nn.Module:
        """A copy of `model` holding the average (the model itself is left as it is)."""
        import copy

        averaged = copy.deepcopy(model)
        averaged.load_state_dict(self.average)
        return averaged

    def state_dict(self) -> dict:
        return {"count": self.count, "average": self.average}

    def load_state_dict(self, state: dict) -> None:
        self.count, self.average = state["count"], state["average"]
