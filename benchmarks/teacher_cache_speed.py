#!/usr/bin/env python
"""How much faster a distillation epoch is with the teacher cache than with a live teacher.

    python benchmarks/teacher_cache_speed.py --steps 4

Times training steps of configs/demo_quick.yaml on the quick demo corpus (16 labelled + 16
audio-only clips per step) two ways: with the teacher's outputs read from the cache, and with the
teacher run on the step's clips first (32 kHz audio, embeddings + 3-beam captions), as a live
teacher must. Both the demo-size teacher and the full-size HTSAT-BART (random weights: its speed
does not depend on them) are timed. The epoch times are the mean step time x the steps per epoch.
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
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args(argv)

    import torch

    from effnet_trm.data import decode_audio
    from effnet_trm.distill.config import load_config
    from effnet_trm.distill.trainer import Trainer
    from effnet_trm.teachers.htsat_bart import HTSATBartCaptioner, HTSATBartTeacher

    torch.set_num_threads(2)
    config = load_config(args.config, ["training.log_with=null", "output_dir=outputs/teacher_cache_speed"])
    trainer = Trainer(config)
    batches = trainer.batches
    rows = {"labelled": batches.labelled.rows, "audio_only": batches.audio_only.rows}
    index = {name: {a: i for i, a in enumerate(source["audio_id"])} for name, source in rows.items()}
    teachers = {
        "demo-size teacher": HTSATBartTeacher.from_pretrained(Path(config.data.teacher_cache).parent / "teacher"),
        "full-size HTSAT-BART": HTSATBartTeacher(HTSATBartCaptioner.from_size("full"), tokenizer=None),
    }

    def teacher_audio(batch):
        clips = []
        for audio_id in batch.audio_ids:
            name = "labelled" if audio_id in index["labelled"] else "audio_only"
            clips.append(decode_audio(rows[name][index[name][audio_id]]["audio"], 32000))
        return clips

    def step_times(live_teacher=None):
        times = []
        for step in range(args.steps):
            batch = batches[step]
            started = time.perf_counter()
            if live_teacher is not None:
                audio = teacher_audio(batch)
                with torch.inference_mode():
                    audio_tensor = live_teacher.batch(audio)
                    output, ids = live_teacher.model.generate_ids(audio_tensor, num_beams=3)
            trainer.train_step(batch)
            times.append(time.perf_counter() - started)
        return statistics.mean(times)

    trainer.module.train()
    steps_per_epoch = batches.steps_per_epoch
    cached = step_times()
    print(
        f"\n{'distillation epoch (quick corpus, ' + str(steps_per_epoch) + ' steps)':<58}{'time':>10}{'vs cached':>12}"
    )
    print(f"{'teacher outputs from the cache':<58}{cached * steps_per_epoch:>9.0f}s{1.0:>11.1f}x")
    for name, teacher in teachers.items():
        live = step_times(teacher)
        print(f"{'live ' + name:<58}{live * steps_per_epoch:>9.0f}s{live / cached:>11.1f}x")
    print(f"(mean of {args.steps} steps x steps per epoch; 2 threads)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
