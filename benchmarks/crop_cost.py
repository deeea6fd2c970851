#!/usr/bin/env python
"""What a longer training crop costs per distillation step.

    python benchmarks/crop_cost.py --crops 5 10 --steps 4

Times training steps of the paper-size student (EfficientNet-B2 + 2-layer Transformer) with the
losses of configs/demo_quick.yaml (L_sup + L_seq + contrastive L_enc) on a synthetic batch of
16 labelled + 16 audio-only clips of each crop length. The crop lengths are timed in turn, step by
step, so that load from other jobs on the machine falls on both alike; the FLOPs of one step
(forward + backward, `torch.utils.flop_counter`) are printed too, a measure no other job can disturb.
Needs no corpus or teacher: a step's cost depends on the shapes, not on the audio.
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
    parser.add_argument("--steps", type=int, default=4, help="timed steps per crop (after one warm-up step)")
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
    student = EffNetTrmForAudioCaptioning(EffNetTrmConfig(vocab_size=args.vocab_size, **config.model.config))
    module = DistillationModule(student, config.kd, teacher_dim=768, label_smoothing=training.label_smoothing).train()
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-4)
    labelled, audio_only = training.labelled_batch_size, training.audio_only_batch_size
    clips = labelled + audio_only

    def batch(seconds: float) -> Batch:
        samples = int(seconds * student.config.sampling_rate)
        words = torch.randint(4, args.vocab_size, (clips, 12))
        return Batch(input_values=0.1 * torch.randn(clips, samples), attention_mask=torch.ones(clips, samples, dtype=torch.long),
                     num_labelled=labelled, labels=words[:labelled], teacher_labels=words,
                     teacher_embeddings=torch.randn(clips, 768), audio_ids=[str(i) for i in range(clips)])

    def step_flops(seconds: float) -> float:
        from torch.utils.flop_counter import FlopCounterMode

        with FlopCounterMode(display=False) as counter:
            module(batch(seconds))["total"].backward()
        module.zero_grad()
        return counter.get_total_flops() / 1e9

    def step(seconds: float) -> float:
        inputs = batch(seconds)
        started = time.perf_counter()
        loss = module(inputs)["total"]
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return time.perf_counter() - started

    flops = {crop: step_flops(crop) for crop in args.crops}
    times = {crop: [] for crop in args.crops}
    for crop in args.crops:
        step(crop)  # warm-up: oneDNN picks its kernels per shape
    for _ in range(args.steps):
        for crop in args.crops:
            times[crop].append(step(crop))
    base = statistics.median(times[args.crops[0]])
    print(f"\n{'crop':>8}{'s/step (median)':>18}{'min':>8}{'max':>8}{'vs ' + str(args.crops[0]) + ' s':>10}"
          f"{'GFLOPs/step':>14}{'vs':>8}")
    for crop, values in times.items():
        median = statistics.median(values)
        print(f"{crop:>7.1f}s{median:>18.2f}{min(values):>8.2f}{max(values):>8.2f}{median / base:>9.2f}x"
              f"{flops[crop]:>14.0f}{flops[crop] / flops[args.crops[0]]:>7.2f}x")
    print(f"({labelled} + {audio_only} clips per step, {args.steps} steps per crop, {args.threads} threads)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
