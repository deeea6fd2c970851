#!/usr/bin/env python
"""Does the PyTorch YAMNet (effnet_trm.audioset.yamnet) compute what the original SavedModel computes?

    python benchmarks/yamnet_vs_tensorflow.py                  # makes a temporary venv with tensorflow-cpu
    python benchmarks/yamnet_vs_tensorflow.py --tf-venv DIR    # reuse (or create and keep) that venv

TensorFlow never enters the project's environment: a separate venv gets whatever `tensorflow-cpu`
PyPI serves for this Python (several hundred MB; deleted afterwards unless --tf-venv is given).
Inputs: real recordings of the demo corpus's source packages (decoded to 16 kHz mono by
effnet_trm.audio.load_audio), plus synthetic signals (silence, a 0.3 s tone shorter than one patch,
noise, a chirp). A child process in the TF venv runs the SavedModel's YAMNet (the hub module kept
inside it: ``layer-1 -> layer -> _func``, whose ``__call__`` returns scores, embeddings and log-mel)
on each waveform; this process runs the port, and prints per input the max abs difference of the
patch scores, embeddings and log-mel, and whether the clip's top-5 classes agree.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: Runs inside the TensorFlow venv: argv = SavedModel folder, input .npz, output .npz.
TF_CHILD = r"""
import sys, numpy as np, tensorflow as tf
folder, inputs, output = sys.argv[1:4]
loaded = tf.saved_model.load(folder)
yamnet = getattr(getattr(loaded, "layer-1").layer, "_func")
waves = np.load(inputs)
results = {}
for name in waves.files:
    scores, embeddings, log_mel = yamnet(tf.constant(waves[name], tf.float32))
    results[name + "/scores"], results[name + "/embeddings"] = scores.numpy(), embeddings.numpy()
    results[name + "/log_mel"] = log_mel.numpy()
np.savez(output, **results)
print("tensorflow", tf.__version__)
"""


def make_tf_venv(directory: Path) -> Path:
    python = directory / "bin" / "python"
    if not python.exists():
        venv.create(directory, with_pip=True)
    if subprocess.run([str(python), "-c", "import tensorflow"], capture_output=True).returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", "tensorflow-cpu"], check=True)
    return python


def synthetic_inputs(rate: int = 16000) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    t = np.arange(4 * rate) / rate
    return {
        "synthetic/silence_2s": np.zeros(2 * rate, np.float32),
        "synthetic/tone_440Hz_0.3s": (0.5 * np.sin(2 * np.pi * 440 * t[: int(0.3 * rate)])).astype(np.float32),
        "synthetic/white_noise_3s": (0.1 * rng.standard_normal(3 * rate)).astype(np.float32),
        "synthetic/chirp_4s": (0.5 * np.sin(2 * np.pi * (100 * t + 450 * t**2))).astype(np.float32),
    }


def real_inputs(per_class: int, max_seconds: float) -> dict[str, np.ndarray]:
    """The first `per_class` decodable recordings of each class, cut to `max_seconds`."""
    from effnet_trm.audio import AudioError, load_audio
    from effnet_trm.data.sources import collect_recordings

    recordings, missing = collect_recordings()
    if missing:
        print(f"(missing source packages: {', '.join(missing)})")
    taken: dict[str, int] = {}
    waves = {}
    for recording in recordings:
        if taken.get(recording.class_name, 0) >= per_class:
            continue
        try:
            wave = load_audio(io.BytesIO(recording.data), 16000)
        except AudioError:
            continue
        taken[recording.class_name] = taken.get(recording.class_name, 0) + 1
        waves[f"{recording.class_name}/{recording.source}"] = wave[: int(max_seconds * 16000)]
    return waves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tf-venv", type=Path, help="venv with tensorflow-cpu (created if missing, kept)")
    parser.add_argument("--per-class", type=int, default=1, help="real recordings per corpus class")
    parser.add_argument("--max-seconds", type=float, default=10.0)
    args = parser.parse_args()

    import torch

    from effnet_trm.audioset.fetch import yamnet_folder
    from effnet_trm.audioset.yamnet import load_yamnet, yamnet_class_names

    start = time.time()
    folder = yamnet_folder()
    waves = {**synthetic_inputs(), **real_inputs(args.per_class, args.max_seconds)}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        python = make_tf_venv(args.tf_venv or tmp / "tf-venv")
        print(f"TensorFlow venv ready after {time.time() - start:.0f} s")
        keys = {f"w{i}": name for i, name in enumerate(waves)}  # npz keys must be plain
        np.savez(tmp / "in.npz", **{k: waves[name] for k, name in keys.items()})
        done = subprocess.run(
            [str(python), "-c", TF_CHILD, str(folder), str(tmp / "in.npz"), str(tmp / "out.npz")],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            sys.exit(f"TensorFlow failed:\n{done.stderr[-3000:]}")
        print(done.stdout.strip().splitlines()[-1])
        tf_out = dict(np.load(tmp / "out.npz"))

    model, classes = load_yamnet(folder), yamnet_class_names(folder)
    rows, worst = [], {"scores": 0.0, "embeddings": 0.0, "log_mel": 0.0}
    agree = 0
    for key, name in keys.items():
        with torch.no_grad():
            out = model(torch.from_numpy(waves[name])[None])
        ours = {
            "scores": out.scores[0].numpy(),
            "embeddings": out.embeddings[0].numpy(),
            "log_mel": out.log_mel[0].numpy(),
        }
        theirs = {part: tf_out[f"{key}/{part}"] for part in ours}
        if any(ours[p].shape != theirs[p].shape for p in ours):
            sys.exit(f"{name}: shapes differ: {[(ours[p].shape, theirs[p].shape) for p in ours]}")
        diff = {p: float(np.abs(ours[p] - theirs[p]).max()) for p in ours}
        for p in diff:
            worst[p] = max(worst[p], diff[p])
        top_ours = np.argsort(-ours["scores"].mean(0))[:5]
        top_tf = np.argsort(-theirs["scores"].mean(0))[:5]
        same = set(top_ours) == set(top_tf)
        agree += same
        rows.append(
            (
                name[:58],
                len(waves[name]) / 16000,
                ours["scores"].shape[0],
                diff["scores"],
                diff["embeddings"],
                diff["log_mel"],
                "yes" if same else "NO",
                classes[top_tf[0]][:24],
            )
        )

    print(
        f"\n{'input':58s} {'sec':>5s} {'pat':>3s} {'|d score|':>9s} {'|d emb|':>9s} {'|d logmel|':>10s} top5  TF top-1"
    )
    for row in rows:
        print(
            f"{row[0]:58s} {row[1]:5.2f} {row[2]:3d} {row[3]:9.2e} {row[4]:9.2e} {row[5]:10.2e} {row[6]:>4s}  {row[7]}"
        )
    print(
        f"\n{len(rows)} inputs; max |d score| {worst['scores']:.2e}, max |d embedding| {worst['embeddings']:.2e}, "
        f"max |d log-mel| {worst['log_mel']:.2e}; top-5 sets agree on {agree}/{len(rows)}; "
        f"wall time {time.time() - start:.0f} s"
    )


if __name__ == "__main__":
    main()
