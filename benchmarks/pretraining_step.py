#!/usr/bin/env python
"""What an encoder-pretraining step costs (`pretrain_encoder.py`, EfficientNet-B2 on YAMNet's targets),
with the backbone's tensors in the usual NCHW layout and in channels-last (NHWC), its default.

    python benchmarks/pretraining_step.py --steps 6

One step is the fold encoder's (`DEMO_RUNS["effnet_b2"]`: batch 32 of one-patch crops, 0.96 s at
16 kHz): log-mel, EfficientNet-B2 forward and backward, the distillation loss, an AdamW update. The
layouts are timed in turn, step by step, so that load from other jobs falls on both alike; the table
gives the median seconds per step and the largest difference between the layouts' clip embeddings
on the same weights (they compute the same function; only the order of the sums differs).
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
    parser.add_argument("--steps", type=int, default=6, help="timed steps per layout (after two warm-up steps)")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)

    import torch

    from effnet_trm.audioset.yamnet import EMBEDDING_SIZE, NUM_CLASSES
    from effnet_trm.pretrain.encoders import EffNetB2Encoder
    from effnet_trm.pretrain.targets import crop_for_patches
    from effnet_trm.pretrain.trainer import DistillationHeads, PretrainConfig, distillation_loss

    layouts = {"channels-last (default)": torch.channels_last, "contiguous (NCHW)": torch.contiguous_format}
    generator = torch.Generator().manual_seed(0)
    audio = torch.randn(args.batch_size, crop_for_patches(0, 1)[1], generator=generator) * 0.1
    scores = torch.rand(args.batch_size, NUM_CLASSES, generator=generator)
    embedding = torch.randn(args.batch_size, EMBEDDING_SIZE, generator=generator)
    config = PretrainConfig(crop_patches=1)

    runs = {}
    for name, layout in layouts.items():
        torch.manual_seed(0)
        encoder = EffNetB2Encoder(crop_patches=1)
        encoder.encoder.backbone.to(memory_format=layout)
        heads = DistillationHeads(encoder.embedding_dim)
        parameters = [*encoder.parameters(), *heads.parameters()]
        runs[name] = (encoder, heads, parameters, torch.optim.AdamW(parameters, lr=1e-3))

    def step(name: str) -> float:
        encoder, heads, parameters, optimizer = runs[name]
        started = time.perf_counter()
        logits, projected = heads(encoder(audio))
        loss = distillation_loss(logits, projected, scores, embedding, config)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return time.perf_counter() - started

    with torch.no_grad():  # same weights, both layouts: the same embeddings up to summation order
        first, second = (runs[name][0].eval() for name in layouts)
        second.load_state_dict(first.state_dict())
        difference = (first(audio) - second(audio)).abs().max().item()
        first.train(), second.train()
    timings = {name: [] for name in layouts}
    for index in range(2 + args.steps):
        for name in layouts:
            seconds = step(name)
            if index >= 2:
                timings[name].append(seconds)

    threads = torch.get_num_threads()
    print(f"encoder pretraining step: EfficientNet-B2, batch {args.batch_size} x 0.96 s, {threads} threads")
    print("| layout | seconds per step (median) | speed-up |")
    print("|---|---|---|")
    base = statistics.median(timings["contiguous (NCHW)"])
    for name, values in timings.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.3f} | {base / median:.2f}x |")
    print(f"largest clip-embedding difference between the layouts: {difference:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
