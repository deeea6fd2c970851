"""`benchmarks/encoder_transfer.py`'s 1-NN class accuracy: which recordings it asks about, and that the
nearest training recording's class is the answer."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from effnet_trm.data.io import rows_to_dataset
from tests.test_data_corpus import wav_bytes

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def tones(rows: list[tuple[list[str], float]]):
    """A recordings pool of pure tones: (classes, frequency) a row."""
    return rows_to_dataset(
        [
            {
                "audio": {"bytes": wav_bytes(1.0, frequency=frequency), "path": f"{i}.wav"},
                "captions": [],
                "audio_id": f"recording-{i}",
                "classes": classes,
                "source": f"pkg/{i}.wav",
                "license": "CC0-1.0",
            }
            for i, (classes, frequency) in enumerate(rows)
        ]
    )


def tone_embedding(audio: torch.Tensor) -> torch.Tensor:
    """Energy in 100 Hz bands from 50 Hz (wav_bytes adds a DC offset): tones in one band are neighbours."""
    spectrum = np.abs(np.fft.rfft(audio.numpy(), n=16000, axis=-1))[:, 50:2550]
    return torch.from_numpy(spectrum.reshape(len(spectrum), 25, 100).sum(-1).astype(np.float32))


def test_nearest_neighbour_accuracy_asks_about_single_known_classes_only():
    from encoder_transfer import nearest_neighbour_accuracy

    train = tones(
        [
            (["dog"], 300.0),
            (["dog"], 320.0),
            (["bell"], 900.0),
            (["cow"], 1500.0),
            (["dog", "bell"], 600.0),  # two classes: not a gallery entry
            ([], 2000.0),  # uncaptioned: not a gallery entry
        ]
    )
    validation = tones(
        [
            (["dog"], 310.0),  # right: nearest is a dog
            (["bell"], 910.0),  # right
            (["cow"], 900.0),  # wrong: it sounds like the bell
            (["horse"], 1500.0),  # no horse in the gallery: not asked
            ([], 300.0),  # uncaptioned: not asked
            (["dog", "bell"], 600.0),  # two classes: not asked
        ]
    )
    accuracy, asked = nearest_neighbour_accuracy(train, validation, tone_embedding)
    assert asked == 3 and accuracy == pytest.approx(2 / 3)
