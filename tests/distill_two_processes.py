"""Started by tests/test_distill.py in 2 CPU processes (not a test file):

    torchrun --nproc_per_node 2 tests/distill_two_processes.py CONFIG.yaml OUT_DIR [streamed]

Each process writes to OUT_DIR: the loss terms and the contrastive head's gradients on the first
global batch (eval mode: no dropout), then its student's weights after a run stopped after one step
and resumed to the end. With `streamed` (a config whose audio-only pool is streamed): the pool clips
it reads in the first 4 steps, and its student's weights after an uninterrupted run and after a run
stopped after 2 steps and resumed.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from effnet_trm.distill.config import load_config  # noqa: E402
from effnet_trm.distill.trainer import Trainer  # noqa: E402


def main(config_path: str, out: str) -> None:
    out = Path(out)
    config = load_config(config_path)
    trainer = Trainer(config)
    rank = trainer.accelerator.process_index
    trainer.module.eval()
    terms = trainer.module(trainer.batches[0].to(trainer.accelerator.device))
    trainer.accelerator.backward(terms["total"])
    head = trainer.accelerator.unwrap_model(trainer.module).contrastive
    torch.save(
        {
            "terms": {k: v.item() for k, v in terms.items()},
            "grads": {name: p.grad.clone() for name, p in head.named_parameters()},
        },
        out / f"first_batch_{rank}.pt",
    )
    trainer.optimizer.zero_grad()

    assert trainer.train(stop_after_steps=1) is None
    resumed = Trainer(config)
    model_dir = resumed.train(resume="latest")
    student = resumed.accelerator.unwrap_model(resumed.module).student
    torch.save(
        {"state": student.state_dict(), "model_dir": str(model_dir), "global_step": resumed.state.global_step},
        out / f"final_{rank}.pt",
    )


def streamed(config_path: str, out: str) -> None:
    out = Path(out)
    config = load_config(config_path)
    trainer = Trainer(config)
    rank = trainer.accelerator.process_index
    labelled = len(trainer.batches.share(config.training.labelled_batch_size))
    pool_ids = [batch.audio_ids[labelled:] for batch in trainer.batch_loader(0, 4) if batch is not None]

    def student_of(run: Trainer) -> dict:
        return {k: v.clone() for k, v in run.accelerator.unwrap_model(run.module).student.state_dict().items()}

    # every run stops at its last step, before `end_training` (which ends the process group)
    last_step = trainer.batches.steps_per_epoch * config.training.epochs
    interrupted_dir = config.output_dir
    config.output_dir = str(Path(interrupted_dir) / "uninterrupted")
    uninterrupted = Trainer(config)
    assert uninterrupted.train(stop_after_steps=last_step) is None
    config.output_dir = interrupted_dir
    assert Trainer(config).train(stop_after_steps=2) is None
    resumed = Trainer(config)
    assert resumed.train(resume="latest", stop_after_steps=last_step) is None
    torch.save(
        {"pool_ids": pool_ids, "uninterrupted": student_of(uninterrupted), "resumed": student_of(resumed)},
        out / f"streamed_{rank}.pt",
    )


if __name__ == "__main__":
    if sys.argv[3:] == ["streamed"]:
        streamed(*sys.argv[1:3])
    else:
        main(*sys.argv[1:])
