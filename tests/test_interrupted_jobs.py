"""Long jobs stopped half-way (Ctrl-C or a kill) leave nothing that a rerun would trust: outputs are
written into hidden temporaries and renamed into place when complete (`effnet_trm.atomic`)."""

from __future__ import annotations

import pickle
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from test_distill import _config, _student_state, tiny_run  # noqa: F401 - tiny_run is a fixture

from effnet_trm.atomic import atomic_folder, partial_path, write_text_atomic
from effnet_trm.distill.trainer import Trainer

CHILD = Path(__file__).with_name("interrupted_child.py")


def _stop_when_stalled(args: list[str], how: signal.Signals) -> int:
    """Run the child until it reports its stall, stop it with `how`, and return its exit code."""
    child = subprocess.Popen(
        [sys.executable, str(CHILD), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output = []
    try:
        for line in child.stdout:
            output.append(line)
            if line.strip() == "STALLED":
                child.send_signal(how)
                break
        else:
            pytest.fail("the child ended before stalling:\n" + "".join(output[-40:]))
        output.append(child.communicate(timeout=120)[0])
    finally:
        if child.poll() is None:
            child.kill()
    return child.returncode


def test_atomic_folder_is_whole_or_absent(tmp_path):
    final = tmp_path / "out"
    with pytest.raises(RuntimeError), atomic_folder(final) as folder:
        (folder / "half.txt").write_text("half")
        raise RuntimeError("stopped")
    assert not final.exists() and list(tmp_path.iterdir()) == []

    final.mkdir()
    (final / "old.txt").write_text("old")
    with atomic_folder(final) as folder:
        (folder / "new.txt").write_text("new")
        assert (final / "old.txt").exists()  # the old output stays readable until the new one is complete
    assert [p.name for p in final.iterdir()] == ["new.txt"] and [p.name for p in tmp_path.iterdir()] == ["out"]

    write_text_atomic(tmp_path / "note.txt", "text")
    assert (tmp_path / "note.txt").read_text() == "text" and not partial_path(tmp_path / "note.txt").exists()


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill"])
def test_a_dataset_stopped_while_saving_is_not_there(tmp_path, how):
    from datasets import load_from_disk

    from effnet_trm.data.io import save_dataset

    out = tmp_path / "corpus"
    code = _stop_when_stalled(["dataset", str(out)], how)
    assert code != 0
    # saved in place, `dataset_dict.json` would already be there and the demo would skip this stage
    assert not out.exists()
    leftovers = [p.name for p in tmp_path.iterdir()]
    if how == signal.SIGINT:
        assert leftovers == []  # Ctrl-C cleans up after itself
    else:
        assert len(leftovers) == 1 and leftovers[0].startswith(".corpus.partial-")  # hidden, never read
    from datasets import Dataset, DatasetDict

    save_dataset(DatasetDict({"a": Dataset.from_dict({"x": [1, 2]})}), out)  # the rerun
    assert load_from_disk(str(out))["a"]["x"] == [1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["corpus"]  # and it removed the stale temporary


def test_training_killed_while_checkpointing_resumes_from_the_last_whole_checkpoint(tiny_run, tmp_path):  # noqa: F811
    overrides = {"training.save_every_steps": 2, "output_dir": str(tmp_path / "run")}
    config = _config(tiny_run, "unused", **overrides)
    config_file = tmp_path / "config.pickle"
    config_file.write_bytes(pickle.dumps(config))

    assert _stop_when_stalled(["checkpoint", str(config_file)], signal.SIGKILL) != 0
    root = tmp_path / "run" / "checkpoints"
    names = sorted(p.name for p in root.iterdir())
    assert names == [".step_00000003.partial", "step_00000002"], names  # the save at the end of epoch 1 never completed

    resumed = Trainer(config)
    assert resumed.latest_checkpoint() == root / "step_00000002"
    model_dir = resumed.train(resume="latest")
    assert resumed.state.global_step == 6 and (model_dir / "model.safetensors").exists()
    assert not list(root.glob(".*")) and not list(model_dir.parent.glob(".*partial*"))

    uninterrupted = Trainer(_config(tiny_run, "uninterrupted", output_dir=str(tmp_path / "full")))
    uninterrupted.train()
    expected = _student_state(uninterrupted)
    for name, value in _student_state(resumed).items():
        assert value.equal(expected[name]) or value.sub(expected[name]).abs().max() < 1e-5, name
