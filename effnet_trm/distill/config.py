"""Distillation run configuration: YAML files under configs/, with dotted command-line overrides.

python train_distill.py --config configs/audiocaps_contrastive_audio_only.yaml training.lr=3e-4
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml


@dataclass
class DataConfig:
    dataset: str = "data/demo_quick"  #: a DatasetDict folder in the project schema (see datasets_scripts/)
    train_split: str = "train"
    audio_only_split: str | None = None  #: mixed into every batch when set (read as audio only)
    #: where that split lives, if not in `dataset`: a save_to_disk folder (e.g. a pool sample), or with
    #: `audio_only_streaming` a Hub dataset id or a local folder of Parquet/Arrow files
    audio_only_dataset: str | None = None
    #: stream `audio_only_dataset` (a `datasets.IterableDataset`) instead of reading it from local disk;
    #: its batches are reproducible only for the same process and worker counts (docs/data.md, "Streamed")
    audio_only_streaming: bool = False
    #: shuffle a stream within a buffer of this many clips (0: file order within a shard, the shard
    #: order changing each pass). A buffer's content is not checkpointed: resume is then not exact
    audio_only_shuffle_buffer: int = 0
    #: a teacher folder (teacher.pt + tokenizer, as cache_teacher.py takes) run live on the streamed
    #: audio-only clips, on the training device, instead of looking them up in the teacher cache: for
    #: pools too large to cache. Its window is the student's crop. The labelled split still uses the cache
    audio_only_live_teacher: str | None = None
    validation_split: str = "validation"
    teacher_cache: str | None = None  #: folder written by datasets_scripts/cache_teacher.py
    #: random crops of this length for training (shorter clips are padded), taken inside the teacher's
    #: window (the whole clip, or one of its fixed 10 s windows) so the teacher's targets describe them
    crop_seconds: float = 10.0
    validation_limit: int | None = None  #: score only the first N validation clips
    #: decode every training clip into memory at start-up (about 640 kB per 10 s clip): for tiny
    #: corpora only; by default clips are decoded as batches are made, in the DataLoader's workers
    preload_audio: bool = False


@dataclass
class ModelConfig:
    init_from: str | None = None  #: start from a saved model folder instead of a fresh model
    #: start the encoder alone from pretrained weights (the paper's AudioSet initialisation): an
    #: efficientnet_pytorch checkpoint file, a model folder / Hub id of this package, or a folder
    #: written by pretrain_encoder.py (see effnet_trm/pretrain/init.py)
    encoder_init_from: str | None = None
    tokenizer: str | None = None  #: a tokenizer folder; default: built from the labelled training captions
    min_word_count: int = 1
    config: dict = field(default_factory=dict)  #: EffNetTrmConfig overrides


@dataclass
class KDConfig:
    encoder_loss: str = "contrastive"  #: contrastive | mse | none
    sequence_kd: bool = True  #: L_seq on the teacher's captions
    #: which cached teacher caption L_seq trains on, drawn per clip and step: top1 (the top beam, the
    #: paper) | uniform (any beam or sampled caption) | score (softmax of the teacher's scores)
    sequence_kd_choice: str = "top1"
    sequence_kd_temperature: float = 1.0  #: temperature of the `score` rule (higher: closer to uniform)
    sup_weight: float = 1.0
    seq_weight: float = 1.0  #: the weight of L_seq
    enc_weight: float = 1.0
    shared_dim: int = 1024  #: contrastive projection size
    init_temperature: float = 0.07


@dataclass
class TrainingConfig:
    epochs: int = 25
    labelled_batch_size: int = 16
    audio_only_batch_size: int = 16
    gradient_accumulation_steps: int = 1
    lr: float = 5e-4
    final_lr: float = 5e-7
    warmup_epochs: float = 5
    weight_decay: float = 1e-6
    max_grad_norm: float = 1.0
    label_smoothing: float = 0.1
    max_words: int = 20
    mixed_precision: str = "no"
    seed: int = 0
    #: DataLoader worker processes that read, decode, crop and tokenise batches while the model trains
    #: (0: in the training process). The batches are the same for any number (a streamed pool aside)
    num_workers: int = 2
    prefetch_factor: int = 2  #: batches each worker prepares ahead
    #: true: one loader, and so the same workers, for the whole run (they prefetch across epoch ends
    #: and wait during validation); false: new workers each epoch (none alive during validation)
    persistent_workers: bool = True
    save_every_steps: int = 500
    validate_every_epochs: int = 1
    num_beams: int = 3
    selection_metric: str = "cider_d"
    #: a checkpoint whose validation captions are less than this fraction distinct (a collapsed
    #: captioner) is selected only if no checkpoint reaches it; 0.0: the paper's rule, the metric alone
    min_distinct_fraction: float = 0.0
    log_with: str | None = "tensorboard"
    # regularisers of the authors' configs (REFERENCE.md 1.1, 3.5); off by default, on in the
    # AudioCaps/Clotho configs. None of them changes the saved model's code.
    spec_augment: bool = False  #: mask 2 time stripes (< 64 frames) and 2 mel stripes (< 8 bins) of the log-mel
    #: scheduled sampling: the share of reference words fed to the decoder falls linearly from 1 to
    #: this over training (1.0: off, plain teacher forcing; the authors' configs: 0.7)
    scheduled_sampling_final_ratio: float = 1.0
    #: average the weights after each epoch from this one (1-based) on, and offer the average to
    #: model selection at the end (None: off; the authors: 21 of 25)
    swa_start_epoch: int | None = None
    #: freeze the stem and the first N stages of the student's EfficientNet (B2 has 7): no gradient,
    #: batch norm in evaluation mode. For small compute budgets (the demo); the paper: 0, all trained
    frozen_encoder_stages: int = 0
    #: freeze the EfficientNet's head too (conv_head + bn2), with every stage frozen: the encoder's
    #: features stay as pretrained and only the decoder learns (a linear probe's rule, which keeps a
    #: pretrained encoder's knowledge for inputs unlike the training clips; encoder KD then has nothing
    #: of the captioner to train)
    freeze_encoder_head: bool = False
    #: keep the frozen stages' output per clip (in memory, about 120 kB per 10 s clip with 5 stages of B2)
    #: and reuse it when the same input comes back: only with whole-clip crops, without SpecAugment
    cache_frozen_stages: bool = False


@dataclass
class DistillConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    kd: KDConfig = field(default_factory=KDConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    output_dir: str = "outputs/run"  #: checkpoints, logs and the final model folder (output_dir/model)
    model_dir: str | None = None  #: where the final (best) model folder goes, if not output_dir/model
    push_to_hub: str | None = None  #: a Hub repo id to upload the final model folder to

    def __post_init__(self):
        if self.kd.encoder_loss not in ("contrastive", "mse", "none"):
            raise ValueError(f"kd.encoder_loss must be contrastive, mse or none, not {self.kd.encoder_loss!r}")
        if self.kd.sequence_kd_choice not in ("top1", "uniform", "score"):
            raise ValueError(
                f"kd.sequence_kd_choice must be top1, uniform or score, not {self.kd.sequence_kd_choice!r}"
            )
        uses_teacher = self.kd.encoder_loss != "none" or self.kd.sequence_kd
        if uses_teacher and not self.data.teacher_cache:
            raise ValueError("distillation needs data.teacher_cache (run datasets_scripts/cache_teacher.py)")
        if not 0.0 <= self.training.scheduled_sampling_final_ratio <= 1.0:
            raise ValueError("training.scheduled_sampling_final_ratio is a share of reference words: between 0 and 1")
        if self.training.swa_start_epoch is not None and not 1 <= self.training.swa_start_epoch <= self.training.epochs:
            raise ValueError(f"training.swa_start_epoch must be between 1 and training.epochs ({self.training.epochs})")
        if self.data.audio_only_split and not uses_teacher:
            raise ValueError("audio-only data needs a teacher (sequence_kd or an encoder loss): it has no captions")
        if self.data.audio_only_streaming and not (self.data.audio_only_split and self.data.audio_only_dataset):
            raise ValueError(
                "data.audio_only_streaming needs data.audio_only_dataset (a Hub dataset id or a local "
                "folder of data files) and data.audio_only_split"
            )
        if self.data.audio_only_live_teacher and not self.data.audio_only_streaming:
            raise ValueError(
                "data.audio_only_live_teacher is for streamed pools (data.audio_only_streaming: true); "
                "a pool on local disk is cached once with datasets_scripts/cache_teacher.py"
            )
        if self.training.frozen_encoder_stages < 0:
            raise ValueError("training.frozen_encoder_stages must be >= 0")
        if self.training.freeze_encoder_head and not self.training.frozen_encoder_stages:
            raise ValueError(
                "training.freeze_encoder_head needs every stage frozen too: set training.frozen_encoder_stages "
                "to the EfficientNet's number of stages (B2: 7)"
            )
        if self.training.freeze_encoder_head and self.kd.encoder_loss != "none":
            raise ValueError(
                "training.freeze_encoder_head leaves no encoder weight for kd.encoder_loss to train: "
                "set kd.encoder_loss=none"
            )
        if self.training.cache_frozen_stages and not self.training.frozen_encoder_stages:
            raise ValueError(
                "training.cache_frozen_stages needs training.frozen_encoder_stages > 0: "
                "there is nothing frozen to cache"
            )
        if self.training.cache_frozen_stages and self.training.spec_augment:
            raise ValueError(
                "training.cache_frozen_stages cannot be used with training.spec_augment: SpecAugment "
                "masks each clip differently at every step, so the frozen stages' output never recurs"
            )
        if self.training.num_workers < 0 or self.training.prefetch_factor < 1:
            raise ValueError("training.num_workers must be >= 0 and training.prefetch_factor >= 1")

    @property
    def uses_teacher(self) -> bool:
        return self.kd.encoder_loss != "none" or self.kd.sequence_kd

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _build(cls, values: dict):
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(values) - set(known)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {sorted(unknown)}")
    kwargs = {}
    for name, value in values.items():
        inner = known[name].default_factory if known[name].default_factory is not dataclasses.MISSING else None
        if dataclasses.is_dataclass(inner) or (inner and dataclasses.is_dataclass(inner())):
            kwargs[name] = _build(type(inner()), value or {})
        else:
            kwargs[name] = value
    return cls(**kwargs)


def apply_override(values: dict, override: str) -> None:
    """`section.key=value` (value parsed as YAML) into the nested dict `values`."""
    if "=" not in override:
        raise ValueError(f"overrides look like section.key=value, got {override!r}")
    path, raw = override.split("=", 1)
    keys = path.split(".")
    target = values
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = yaml.safe_load(raw)


def load_config(path: str | Path | None = None, overrides: list[str] = ()) -> DistillConfig:
    values = yaml.safe_load(Path(path).read_text()) if path else {}
    values = values or {}
    for override in overrides:
        apply_override(values, override)
    return _build(DistillConfig, values)
