#!/usr/bin/env python
"""What a distillation step costs: by training crop length, and with the EfficientNet's first stages
frozen and cached (`training.frozen_encoder_stages`, `training.cache_frozen_stages`).

    python benchmarks/step_cost.py --crops 5 10 --steps 4
    python benchmarks/step_cost.py --crops 10 --frozen-stages 0 5 7 --steps 4

Times training steps of the paper-size student (EfficientNet-B2 + 2-layer Transformer) with the
losses of configs/demo_quick.yaml (L_sup + L_seq + contrastive L_enc) on a synthetic batch of
16 labelled + 16 audio-only clips of each crop length. With frozen stages, the same batch comes back
every step, as a clip does every epoch: after the warm-up step its frozen stages are read from the
cache, so the time is that of every epoch after the first. The variants are timed in turn, step by
step, so that load from other jobs on the machine falls on all alike; the FLOPs of one step
(forward + backward, `torch.utils.flop_counter`, cache warm) are printed too, a measure no other job
can disturb. Needs no corpus or teacher: a step's cost depends on the shapes, not on the audio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/demo_quick.yaml")
    parser.add_argument("--crops", type=float, nargs="+", default=[5.0, 10.0], help="crop lengths (s)")
    parser.add_argument(
        "--frozen-stages",
        type=int,
        nargs="+",
        default=[0],
        help="frozen (and cached) EfficientNet stages; 0: the whole encoder trains",
    )
    parser.add_argument("--steps", type=int, default=4, help="timed steps per variant (after one warm-up step)")
    parser.add_argument("--vocab-size", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    import torch

    from configuration_effnet_trm import EffNetTrmConfig
    from effnet_trm.distill.config import load_config
    from effnet_trm.distill.data import Batch
    from effnet_trm.distill.trainer import DistillationModule
    from modeling_effnet_trm import EffNetTrmForAudioCaptioning

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = load_config(args.config)
    training = config.training

    def training_module(frozen: int):
        torch.manual_seed(0)
        student = EffNetTrmForAudioCaptioning(EffNetTrmConfig(vocab_size=args.vocab_size, **config.model.config))
        module = DistillationModule(
            student,
            config.kd,
            teacher_dim=768,
            label_smoothing=training.label_smoothing,
            frozen_encoder_stages=frozen,
            cache_frozen_stages=frozen > 0,
        ).train()
        trainable = [parameter for parameter in module.parameters() if parameter.requires_grad]
        return module, torch.optim.Adam(trainable, lr=1e-4), sum(p.numel() for p in trainable)

    variants = [(crop, frozen) for frozen in args.frozen_stages for crop in args.crops]
    modules = {frozen: training_module(frozen) for frozen in args.frozen_stages}
    sampling_rate = modules[args.frozen_stages[0]][0].student.config.sampling_rate
    labelled, audio_only = training.labelled_batch_size, training.audio_only_batch_size
    clips = labelled + audio_only

    def batch(seconds: float) -> Batch:
        generator = torch.Generator().manual_seed(int(seconds * 1000))  # the same clips at every step
        samples = int(seconds * sampling_rate)
        words = torch.randint(4, args.vocab_size, (clips, 12), generator=generator)
        return Batch(
            input_values=0.1 * torch.randn(clips, samples, generator=generator),
            attention_mask=torch.ones(clips, samples, dtype=torch.long),
            num_labelled=labelled,
            labels=words[:labelled],
            teacher_labels=words,
            teacher_embeddings=torch.randn(clips, 768, generator=generator),
            audio_ids=[str(i) for i in range(clips)],
        )

    def step(crop: float, frozen: int) -> float:
        module, optimizer, _ = modules[frozen]
        inputs = batch(crop)
        started = time.perf_counter()
        loss = module(inputs)["total"]
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return time.perf_counter() - started

    def step_flops(crop: float, frozen: int) -> float:
        from torch.utils.flop_counter import FlopCounterMode

        module = modules[frozen][0]
        with FlopCounterMode(display=False) as counter:
            module(batch(crop))["total"].backward()
        module.zero_grad()
        return counter.get_total_flops() / 1e9

    for variant in variants:
        step(*variant)  # warm-up: oneDNN picks its kernels per shape, and the cache fills
    flops = {variant: step_flops(*variant) for variant in variants}
    times = {variant: [] for variant in variants}
    for _ in range(args.steps):
        for variant in variants:
            times[variant].append(step(*variant))
    base = statistics.median(times[variants[0]])
    print(
        f"\n{'crop':>6}{'frozen stages':>15}{'trained weights':>17}{'s/step (median)':>17}{'min':>7}{'max':>7}"
        f"{'vs first':>10}{'GFLOPs/step':>13}{'vs':>8}"
    )
    for (crop, frozen), values in times.items():
        median = statistics.median(values)
        print(
            f"{crop:>5.1f}s{frozen:>15}{modules[frozen][2] / 1e6:>16.1f}M{median:>17.2f}{min(values):>7.2f}"
            f"{max(values):>7.2f}{median / base:>9.2f}x{flops[crop, frozen]:>13.0f}"
            f"{flops[crop, frozen] / flops[variants[0]]:>7.2f}x"
        )
    print(f"({labelled} + {audio_only} clips per step, {args.steps} steps per variant, {args.threads} threads)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
