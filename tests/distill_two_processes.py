"""Started by tests/test_distill.py in 2 CPU processes (not a test file):

    torchrun --nproc_per_node 2 tests/distill_two_processes.py CONFIG.yaml OUT_DIR

Each process writes to OUT_DIR: the loss terms and the contrastive head's gradients on the first
global batch (eval mode: no dropout), then its student's weights after a run stopped after one step
and resumed to the end.
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
    torch.save({"terms": {k: v.item() for k, v in terms.items()},
                "grads": {name: p.grad.clone() for name, p in head.named_parameters()}}, out / f"first_batch_{rank}.pt")
    trainer.optimizer.zero_grad()

    assert trainer.train(stop_after_steps=1) is None
    resumed = Trainer(config)
    model_dir = resumed.train(resume="latest")
    student = resumed.accelerator.unwrap_model(resumed.module).student
    torch.save({"state": student.state_dict(), "model_dir": str(model_dir), "global_step": resumed.state.global_step},
               out / f"final_{rank}.pt")


if __name__ == "__main__":
    main(*sys.argv[1:])
