"""Started and stopped by tests/test_interrupted_jobs.py (not a test file): a real save that is made
to stall half-way, so that the test can stop it there with Ctrl-C (SIGINT) or a kill (SIGKILL).

    python tests/interrupted_child.py dataset OUT_DIR          # a DatasetDict saved by save_dataset
    python tests/interrupted_child.py checkpoint CONFIG.pickle # training; its 2nd checkpoint stalls

It prints STALLED when the stall begins: the files written so far are on disk, the rest are not.
"""

from __future__ import annotations

import pickle
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

STALL_SECONDS = 120.0


def stall() -> None:
    print("STALLED", flush=True)
    time.sleep(STALL_SECONDS)


def save_dataset_stalling(out_dir: str) -> None:
    import numpy as np
    from datasets import Dataset, DatasetDict

    from effnet_trm.data.io import save_dataset

    class StallingDataset(Dataset):
        def save_to_disk(self, *args, **kwargs):
            stall()  # the first split (and dataset_dict.json) is written, this one is not

    first = Dataset.from_dict({"x": np.arange(100)})
    second = Dataset.from_dict({"x": np.arange(10)})
    second.__class__ = StallingDataset
    save_dataset(DatasetDict({"a": first, "b": second}), out_dir)


def train_stalling_at_the_second_checkpoint(config_file: str) -> None:
    from accelerate import Accelerator

    from effnet_trm.distill.trainer import Trainer

    saved = []
    save_state = Accelerator.save_state

    def save_state_then_stall(self, output_dir=None, **kwargs):
        result = save_state(self, output_dir, **kwargs)  # the weights and optimizer are written
        saved.append(output_dir)
        if len(saved) == 2:
            stall()
        return result

    Accelerator.save_state = save_state_then_stall
    Trainer(pickle.loads(Path(config_file).read_bytes())).train()


if __name__ == "__main__":
    # A job run in the foreground gets Ctrl-C as KeyboardInterrupt. Started from a shell's background
    # job (`nohup ... &`, as CI may be), SIGINT arrives ignored and Python keeps it so: restore the
    # foreground behaviour that the test simulates.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    mode, argument = sys.argv[1:3]
    {"dataset": save_dataset_stalling, "checkpoint": train_stalling_at_the_second_checkpoint}[mode](argument)
