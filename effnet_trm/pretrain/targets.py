"""YAMNet's outputs for a set of clips: every 0.96 s patch's 521 scores and 1024-d embedding.

Computed once per data set and cached as one `.npz` (float16; about 3 kB per patch), so that encoder
pretraining reads its targets instead of running YAMNet at every step. A crop's target is the mean
over the patches it covers, as YAMNet summarises a clip.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..audioset.yamnet import MIN_SAMPLES, PATCH_HOP_SAMPLES


@dataclass
class YAMNetTargets:
    audio_ids: list[str]
    offsets: np.ndarray  #: (clips + 1,) clip i owns patches offsets[i]:offsets[i + 1]
    scores: np.ndarray  #: (patches, 521) sigmoid scores, float16
    embeddings: np.ndarray  #: (patches, 1024), float16

    def num_patches(self, clip: int) -> int:
        return int(self.offsets[clip + 1] - self.offsets[clip])

    def window(self, clip: int, first: int = 0, count: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Mean scores and mean embedding over `count` patches of `clip` from patch `first` (all by default)."""
        start = int(self.offsets[clip]) + first
        stop = int(self.offsets[clip + 1]) if count is None else min(start + count, int(self.offsets[clip + 1]))
        return (
            self.scores[start:stop].astype(np.float32).mean(0),
            self.embeddings[start:stop].astype(np.float32).mean(0),
        )

    def save(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        np.savez(
            path,
            audio_ids=np.array(self.audio_ids),
            offsets=self.offsets,
            scores=self.scores,
            embeddings=self.embeddings,
        )

    @classmethod
    def load(cls, path: str | Path) -> YAMNetTargets:
        with np.load(path) as data:
            return cls(list(data["audio_ids"]), data["offsets"], data["scores"], data["embeddings"])


def crop_for_patches(first: int, count: int) -> tuple[int, int]:
    """(start, length) in 16 kHz samples of the audio that YAMNet's patches first..first+count-1 cover."""
    return first * PATCH_HOP_SAMPLES, MIN_SAMPLES + (count - 1) * PATCH_HOP_SAMPLES


@torch.no_grad()
def compute_yamnet_targets(
    waveforms: list[np.ndarray], audio_ids: list[str], yamnet, batch_size: int = 16, progress: bool = True
) -> YAMNetTargets:
    """YAMNet on 16 kHz `waveforms` (equal-length neighbours run as one batch)."""
    scores, embeddings, counts = [], [], []
    bar = tqdm(total=len(waveforms), desc="YAMNet targets", unit="clip", disable=not progress)
    index = 0
    while index < len(waveforms):
        end = index + 1
        while end < len(waveforms) and end - index < batch_size and waveforms[end].size == waveforms[index].size:
            end += 1
        output = yamnet(torch.from_numpy(np.stack(waveforms[index:end])).float())
        for row in range(end - index):
            scores.append(output.scores[row].half().numpy())
            embeddings.append(output.embeddings[row].half().numpy())
            counts.append(output.scores.shape[1])
        bar.update(end - index)
        index = end
    bar.close()
    return YAMNetTargets(
        list(audio_ids),
        np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        np.concatenate(scores),
        np.concatenate(embeddings),
    )


def cached_yamnet_targets(
    waveforms_16k: list[np.ndarray], audio_ids: list[str], path: str | Path, progress: bool = True
) -> YAMNetTargets:
    """The targets stored at `path` if they cover exactly `audio_ids`, else computed and stored."""
    path = Path(path)
    if path.exists():
        targets = YAMNetTargets.load(path)
        if targets.audio_ids == list(audio_ids):
            return targets
    from ..audioset.yamnet import load_yamnet

    targets = compute_yamnet_targets(waveforms_16k, audio_ids, load_yamnet(), progress=progress)
    targets.save(path)
    return targets
