"""Encoder-level knowledge distillation with Accelerate (the paper's method, sections 2-3).

L = w_sup L_sup + w_seq L_seq + w_enc L_enc. Each step mixes labelled clips (all three losses) with
audio-only clips (L_seq + L_enc only). The student's encoder runs once per step over all clips and
both decoder passes reuse it. Checkpoints (`accelerator.save_state` + the trainer's position) let a
run resume exactly; the best validation checkpoint becomes a Hub-ready model folder.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.distributed as dist
from accelerate import Accelerator
from accelerate.utils import ProjectConfiguration, gather_object, set_seed
from datasets import load_from_disk
from huggingface_hub import HfApi
from torch import nn
from tqdm.auto import tqdm
from transformers import PreTrainedTokenizerFast

from configuration_effnet_trm import EffNetTrmConfig
from feature_extraction_effnet_trm import EffNetTrmFeatureExtractor
from modelcard_effnet_trm import update_model_card
from modeling_effnet_trm import EffNetTrmEncoderOutput, EffNetTrmForAudioCaptioning, masked_mean

# the evaluation modules by name: tests replace their functions (caption_split, compute_caption_metrics)
from ..atomic import atomic_folder, replace_folder
from ..evaluation import metrics as caption_metrics
from ..evaluation import runner as evaluation_runner
from ..hub import save_model_folder
from ..inference import Captioner
from ..pretrain.init import load_encoder_weights
from ..teachers.cache import load_teacher_cache
from ..tokenization import build_word_tokenizer
from .config import DistillConfig, KDConfig
from .data import Batch, ClipMaker, ClipSource, MixedBatches, check_teacher_alternatives
from .frozen_stages import FrozenEncoderStages
from .losses import ContrastiveDistillationHead, caption_loss, mse_distillation_loss
from .regularisers import WeightAverage, add_spec_augment, scheduled_sampling_inputs, teacher_forcing_ratio
from .streaming import LiveTeacher, StreamedBatches, open_audio_only_stream, shards_per_process

logger = logging.getLogger(__name__)

STATE_FILE = "trainer_state.json"
STREAM_STATE_FILE = "audio_only_stream_{rank}.json"  #: each process's position in a streamed pool
CHECKPOINTS = "checkpoints"
KEEP_CHECKPOINTS = 2


class DistillationModule(nn.Module):
    """The student plus the training-only distillation head (never saved with the model)."""

    def __init__(
        self,
        student: EffNetTrmForAudioCaptioning,
        kd: KDConfig,
        teacher_dim: int | None,
        label_smoothing: float,
        spec_augment: bool = False,
        num_processes: int = 1,
        frozen_encoder_stages: int = 0,
        cache_frozen_stages: bool = False,
        freeze_encoder_head: bool = False,
    ):
        super().__init__()
        self.student = student
        self.frozen_stages = (
            FrozenEncoderStages(student.encoder, frozen_encoder_stages, cache_frozen_stages, freeze_encoder_head)
            if frozen_encoder_stages
            else None
        )
        self.kd = kd
        self.label_smoothing = label_smoothing
        self.spec_augment = add_spec_augment(student) if spec_augment else None
        #: share of reference words fed to the decoder (scheduled sampling); the trainer lowers it
        self.teacher_forcing_ratio = 1.0
        self.contrastive = (
            ContrastiveDistillationHead(
                student.config.encoder_hidden_size,
                teacher_dim,
                kd.shared_dim,
                kd.init_temperature,
                global_batch=num_processes > 1,
            )
            if kd.encoder_loss == "contrastive"
            else None
        )

    def train(self, mode: bool = True) -> DistillationModule:
        super().train(mode)
        if self.frozen_stages is not None:
            self.frozen_stages.keep_frozen_in_eval_mode()
        return self

    def encode(self, batch: Batch) -> EffNetTrmEncoderOutput:
        if self.frozen_stages is not None:
            return self.frozen_stages.encode(batch.input_values, batch.attention_mask)
        return self.student.encode(batch.input_values, batch.attention_mask)

    def _decode(self, encoded: EffNetTrmEncoderOutput, labels: torch.Tensor) -> torch.Tensor:
        decoder_input_ids = self.student.shift_labels_right(labels)
        if self.training and self.teacher_forcing_ratio < 1.0:
            with torch.no_grad():
                first_pass = self.student(
                    encoder_outputs=encoded, decoder_input_ids=decoder_input_ids, use_cache=False
                ).logits
            decoder_input_ids = scheduled_sampling_inputs(
                decoder_input_ids, first_pass, self.teacher_forcing_ratio, self.student.config.pad_token_id
            )
        logits = self.student(encoder_outputs=encoded, decoder_input_ids=decoder_input_ids, use_cache=False).logits
        return caption_loss(logits, labels, self.label_smoothing)

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        encoded = self.encode(batch)
        terms: dict[str, torch.Tensor] = {}
        n = batch.num_labelled
        if n and self.kd.sup_weight:
            labelled = EffNetTrmEncoderOutput(**{k: v[:n] for k, v in encoded.items()})
            terms["sup"] = self._decode(labelled, batch.labels)
        if self.kd.sequence_kd and self.kd.seq_weight:
            terms["seq"] = self._decode(encoded, batch.teacher_labels)
        if self.kd.encoder_loss == "contrastive":
            terms["enc"] = self.contrastive(encoded.clip_embedding, batch.teacher_embeddings)
        elif self.kd.encoder_loss == "mse":
            projected_clip = masked_mean(encoded.last_hidden_state, encoded.attention_mask)
            terms["enc"] = mse_distillation_loss(projected_clip, batch.teacher_embeddings)
        weights = {"sup": self.kd.sup_weight, "seq": self.kd.seq_weight, "enc": self.kd.enc_weight}
        terms["total"] = sum(weights[name] * value for name, value in terms.items())
        return terms


def warmup_exponential_decay(warmup_steps: int, total_steps: int, peak_lr: float, final_lr: float):
    """LR multiplier: linear warm-up to the peak, then exponential decay to `final_lr` at the end."""
    ratio = final_lr / peak_lr

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return ratio**progress

    return factor


@dataclass
class TrainerState:
    epoch: int = 0
    step: int = 0  #: batches done in `epoch`
    global_step: int = 0
    best_score: float = -math.inf
    best_epoch: int = -1
    #: whether the selected checkpoint met training.min_distinct_fraction (see `selection_key`)
    best_eligible: bool = False
    best_weights: str = "epoch"  #: "epoch": the weights at the end of best_epoch; "swa": the average
    history: list | None = None

    def save(self, folder: Path) -> None:
        (folder / STATE_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path) -> TrainerState:
        return cls(**json.loads((folder / STATE_FILE).read_text()))


def selection_key(score: float, distinct_fraction: float, min_distinct_fraction: float) -> tuple[bool, float]:
    """Checkpoints compare by this key: any that gives at least `min_distinct_fraction` distinct
    validation captions beats every one that does not, then the higher score wins. A collapsed
    captioner (one frequent sentence for most clips) can top CIDEr-D; it is kept only while nothing
    better exists. `min_distinct_fraction` 0 is the paper's rule: the score alone."""
    return distinct_fraction >= min_distinct_fraction, score


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the message names the step and the last good checkpoint."""


def _tokenizer(config: DistillConfig, corpus):
    if config.model.tokenizer:
        return PreTrainedTokenizerFast.from_pretrained(config.model.tokenizer)
    if config.model.init_from:
        return PreTrainedTokenizerFast.from_pretrained(config.model.init_from)
    # the labelled training captions only: never the audio-only split's
    captions = (c for caps in corpus[config.data.train_split]["captions"] for c in caps)
    return build_word_tokenizer(captions, min_count=config.model.min_word_count, max_words=config.training.max_words)


def _student(
    config: DistillConfig, vocab_size: int, teacher_dim: int | None, report=print
) -> EffNetTrmForAudioCaptioning:
    if config.model.init_from:
        return EffNetTrmForAudioCaptioning.from_pretrained(config.model.init_from)
    overrides = dict(config.model.config)
    if config.kd.encoder_loss == "mse":
        overrides.setdefault("encoder_projection_dim", teacher_dim)
    student = EffNetTrmForAudioCaptioning(EffNetTrmConfig(vocab_size=vocab_size, **overrides))
    if config.model.encoder_init_from:
        report(load_encoder_weights(student, config.model.encoder_init_from).summary())
    return student


def _check_process_count(num_processes: int) -> None:
    """Processes started by a launcher that Accelerate does not take as one job would each train the
    whole data set into the same folders."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() != num_processes:
        raise RuntimeError(
            f"{dist.get_world_size()} processes were started, but Accelerate runs each one alone "
            f"({num_processes} process): on CPUs, set ACCELERATE_USE_CPU=true (torchrun), or use `accelerate launch`"
        )


class Trainer:
    """One distillation run: `Trainer(config).train()`. `__init__` builds the run in order (each
    builder below names one part); the order matters for exact resumes (the seed is set before the
    student is built, the scheduler is registered for checkpointing before the weight average)."""

    def __init__(self, config: DistillConfig):
        self.config = config
        self.output_dir = Path(config.output_dir)
        self.accelerator = self._build_accelerator()
        _check_process_count(self.accelerator.num_processes)
        set_seed(config.training.seed)
        corpus = load_from_disk(config.data.dataset)
        teacher, teacher_dim = self._build_teacher()
        self.tokenizer = _tokenizer(config, corpus)
        student = _student(config, len(self.tokenizer), teacher_dim, report=self.accelerator.print)
        self.module = self._build_module(student, teacher_dim)
        self.validation_rows = self._build_validation_rows(corpus)
        self.live_teacher = self._build_live_teacher(teacher_dim)
        self.batches, self.stream = self._build_data(corpus, teacher, student.config.sampling_rate)
        self.module, self.optimizer, self.scheduler = self._build_optimizer()
        self.weight_average = WeightAverage() if config.training.swa_start_epoch else None
        if self.weight_average is not None:
            self.accelerator.register_for_checkpointing(self.weight_average)
        self.state = TrainerState(history=[])
        if config.training.log_with:
            self.accelerator.init_trackers("distill", config={k: str(v) for k, v in config.to_dict().items()})

    # --- builders (called once, by __init__) -----------------------------------------------------------

    def _build_accelerator(self) -> Accelerator:
        training = self.config.training
        return Accelerator(
            mixed_precision=training.mixed_precision,
            gradient_accumulation_steps=training.gradient_accumulation_steps,
            log_with=training.log_with,
            project_config=ProjectConfiguration(
                project_dir=str(self.output_dir), logging_dir=str(self.output_dir / "logs")
            ),
        )

    def _build_teacher(self):
        """The teacher's cached outputs and their embedding width, or (None, None) for a run without
        a teacher (scratch); the cache is checked against `kd.sequence_kd_choice`."""
        config = self.config
        if not config.uses_teacher:
            return None, None
        teacher, info = load_teacher_cache(config.data.teacher_cache)
        if config.kd.sequence_kd:
            check_teacher_alternatives(teacher, config.kd.sequence_kd_choice, config.data.teacher_cache)
        return teacher, info["embedding_dim"]

    def _build_module(self, student: EffNetTrmForAudioCaptioning, teacher_dim: int | None) -> DistillationModule:
        training = self.config.training
        return DistillationModule(
            student,
            self.config.kd,
            teacher_dim,
            training.label_smoothing,
            spec_augment=training.spec_augment,
            num_processes=self.accelerator.num_processes,
            frozen_encoder_stages=training.frozen_encoder_stages,
            cache_frozen_stages=training.cache_frozen_stages,
            freeze_encoder_head=training.freeze_encoder_head,
        )

    def _build_validation_rows(self, corpus):
        data = self.config.data
        rows = corpus[data.validation_split]
        if data.validation_limit:
            rows = rows.select(range(min(data.validation_limit, len(rows))))
        return rows

    def _build_optimizer(self):
        """Adam over the trainable parameters, the paper's warm-up + exponential decay, and the module
        and optimizer prepared by Accelerate. The scheduler is stepped by hand once per optimizer update
        (not per process)."""
        training = self.config.training
        updates_per_epoch = math.ceil(self.batches.steps_per_epoch / training.gradient_accumulation_steps)
        total_updates = updates_per_epoch * training.epochs
        warmup = max(1, int(training.warmup_epochs * updates_per_epoch))
        trainable = [parameter for parameter in self.module.parameters() if parameter.requires_grad]
        optimizer = torch.optim.Adam(trainable, lr=training.lr, weight_decay=training.weight_decay)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, warmup_exponential_decay(warmup, total_updates, training.lr, training.final_lr)
        )
        module, optimizer = self.accelerator.prepare(self.module, optimizer)
        self.accelerator.register_for_checkpointing(scheduler)
        return module, optimizer, scheduler

    def _build_data(self, corpus, teacher, rate: int):
        """The run's batches: `MixedBatches`, and with a streamed audio-only pool, `StreamedBatches` over
        it (whose loader the trainer then reads)."""
        data, training, kd = self.config.data, self.config.training, self.config.kd
        choice = {"caption_choice": kd.sequence_kd_choice, "caption_temperature": kd.sequence_kd_temperature}

        def source(rows, labelled: bool) -> ClipSource:
            return ClipSource(rows, labelled, rate, data.crop_seconds, teacher, data.preload_audio, **choice)

        audio_only = None
        if data.audio_only_split and not data.audio_only_streaming:
            pool = load_from_disk(data.audio_only_dataset) if data.audio_only_dataset else corpus
            audio_only = source(pool[data.audio_only_split], False)
        batches = MixedBatches(
            source(corpus[data.train_split], True),
            audio_only,
            self.tokenizer,
            EffNetTrmFeatureExtractor(rate),
            training.labelled_batch_size,
            training.audio_only_batch_size if audio_only else 0,
            training.seed,
            training.max_words,
            self.accelerator.process_index,
            self.accelerator.num_processes,
        )
        if not data.audio_only_streaming:
            return batches, None
        stream = open_audio_only_stream(
            data.audio_only_dataset,
            data.audio_only_split,
            self.accelerator.process_index,
            self.accelerator.num_processes,
            data.audio_only_shuffle_buffer,
            training.seed,
        )
        shards = shards_per_process(stream, self.accelerator.num_processes)
        if max(1, training.num_workers) > shards:
            raise ValueError(
                f"the audio-only stream {data.audio_only_dataset} has {stream.num_shards} shards, "
                f"{shards} per process: "
                f"at most {shards} DataLoader workers can read it (training.num_workers={training.num_workers}); "
                "lower training.num_workers or store the pool in more files"
            )
        make_clip = ClipMaker(rate, data.crop_seconds, teacher, **choice)
        live_rate = self.live_teacher.teacher.sampling_rate if self.live_teacher else None
        return batches, StreamedBatches(batches, stream, make_clip, training.audio_only_batch_size, live_rate)

    def _build_live_teacher(self, teacher_dim: int | None):
        """The teacher run on streamed audio-only clips (`data.audio_only_live_teacher`), or None."""
        data, kd = self.config.data, self.config.kd
        if not data.audio_only_live_teacher:
            return None
        return LiveTeacher.from_pretrained(
            data.audio_only_live_teacher,
            self.accelerator.device,
            teacher_dim,
            data.crop_seconds,
            tokenizer=self.tokenizer,
            max_words=self.config.training.max_words,
            seed=self.config.training.seed,
            caption_choice=kd.sequence_kd_choice,
            caption_temperature=kd.sequence_kd_temperature,
        )

    def complete(self, batch: Batch) -> Batch:
        """A batch from the loader, ready to train on: the live teacher's targets added where it has any."""
        return self.live_teacher.complete(batch) if batch.live_teacher is not None else batch

    def batch_loader(self, first: int, stop: int) -> torch.utils.data.DataLoader:
        """The batches of global steps [first, stop), made by `training.num_workers` worker processes.

        A batch is a pure function of its step (a streamed pool: of its step and its stream's position),
        so the workers change only when it is ready, never what it holds.
        """
        training = self.config.training
        if self.stream is not None:
            dataset, sampler = self.stream.steps(first, stop), None
        else:
            dataset, sampler = self.batches, range(first, stop)
        if training.num_workers:
            # the workers tokenise: the tokenizers library warns, and stops its threads, in a forked
            # process whose parent already used them
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        return torch.utils.data.DataLoader(
            dataset,
            batch_size=None,
            sampler=sampler,
            num_workers=training.num_workers,
            prefetch_factor=training.prefetch_factor if training.num_workers else None,
            pin_memory=self.accelerator.device.type == "cuda",
            # its own generator: starting an iterator must not draw from the global RNG (dropout), or a
            # resumed run would diverge from an uninterrupted one
            generator=torch.Generator().manual_seed(training.seed),
        )

    # --- checkpoints ---------------------------------------------------------------------------------

    @property
    def checkpoint_root(self) -> Path:
        return self.output_dir / CHECKPOINTS

    def save_checkpoint(self) -> Path:
        """Every process writes its part into a hidden `.step_N.partial` folder; the main process renames
        it to `step_N` once all parts are there. A run stopped while saving leaves only the hidden
        folder, which `latest_checkpoint` never returns and the next save replaces."""
        folder = self.checkpoint_root / f"step_{self.state.global_step:08d}"
        partial = self.checkpoint_root / f".{folder.name}.partial"
        if self.accelerator.is_main_process and partial.exists():
            shutil.rmtree(partial)
        self.accelerator.wait_for_everyone()
        self.accelerator.save_state(str(partial))
        if self.stream is not None:  # every process has its own streams
            stream_state = partial / STREAM_STATE_FILE.format(rank=self.accelerator.process_index)
            stream_state.write_text(json.dumps(self.stream.state_dict()) + "\n")
        self.accelerator.wait_for_everyone()
        if self.accelerator.is_main_process:
            self.tokenizer.save_pretrained(partial / "tokenizer")
            self.state.save(partial)  # last: a folder with the trainer's state is complete
            replace_folder(partial, folder)
            for old in sorted(self.checkpoint_root.glob("step_*"))[:-KEEP_CHECKPOINTS]:
                shutil.rmtree(old, ignore_errors=True)
        self.accelerator.wait_for_everyone()
        return folder

    def latest_checkpoint(self) -> Path | None:
        """The newest complete checkpoint (interrupted saves are hidden `.step_N.partial` folders)."""
        found = sorted(folder for folder in self.checkpoint_root.glob("step_*") if (folder / STATE_FILE).exists())
        return found[-1] if found else None

    def resume(self, checkpoint: str) -> None:
        folder = self.latest_checkpoint() if checkpoint == "latest" else Path(checkpoint)
        if folder is None or not (folder / STATE_FILE).exists():
            raise FileNotFoundError(f"no checkpoint to resume from at {checkpoint!r} ({self.checkpoint_root})")
        self.accelerator.load_state(str(folder))
        self.state = TrainerState.load(folder)
        if self.stream is not None:
            stream_state = folder / STREAM_STATE_FILE.format(rank=self.accelerator.process_index)
            self.stream.load_state_dict(json.loads(stream_state.read_text()), max(1, self.config.training.num_workers))
        logger.info("resumed from %s (epoch %d, step %d)", folder, self.state.epoch, self.state.step)

    # --- training ------------------------------------------------------------------------------------

    def train_step(self, batch: Batch) -> dict[str, float]:
        training = self.config.training
        total_steps = self.batches.steps_per_epoch * training.epochs
        self.accelerator.unwrap_model(self.module).teacher_forcing_ratio = teacher_forcing_ratio(
            self.state.global_step / total_steps, training.scheduled_sampling_final_ratio
        )
        with self.accelerator.accumulate(self.module):
            terms = self.module(batch.to(self.accelerator.device))
            loss = terms["total"]
            if not torch.isfinite(loss):
                last = self.latest_checkpoint()
                raise NonFiniteLossError(
                    f"the loss became {loss.item()} at epoch {self.state.epoch}, step {self.state.step} "
                    f"({', '.join(f'{k}={v.item():.4g}' for k, v in terms.items())}); nothing was saved after "
                    f"the last good checkpoint ({last or 'none yet'}). Lower training.lr or check the inputs."
                )
            self.accelerator.backward(loss)
            if self.accelerator.sync_gradients:
                self.accelerator.clip_grad_norm_(self.module.parameters(), training.max_grad_norm)
            self.optimizer.step()
            if self.accelerator.sync_gradients:
                self.scheduler.step()
            self.optimizer.zero_grad()
        return {name: value.item() for name, value in terms.items()}

    def train(self, resume: str | None = None, stop_after_steps: int | None = None) -> Path | None:
        """Run (or continue) training; returns the final model folder (None if stopped early on purpose)."""
        training = self.config.training
        if resume:
            self.resume(resume)
        steps_per_epoch = self.batches.steps_per_epoch
        total_steps = steps_per_epoch * training.epochs
        progress = tqdm(
            total=total_steps,
            initial=self.state.global_step,
            desc="distilling",
            unit="step",
            disable=not self.accelerator.is_local_main_process,
        )
        started = time.perf_counter()
        if self.state.step == steps_per_epoch:  # stopped after an epoch's last step, before the epoch's end
            self.end_epoch()
        while self.state.global_step < total_steps:
            stop = total_steps if training.persistent_workers else (self.state.epoch + 1) * steps_per_epoch
            self.module.train()
            for batch in self.batch_loader(self.state.global_step, stop):
                if batch is None:  # a streamed loader's place-holder for a step before its first (StreamedSteps)
                    continue
                terms = self.train_step(self.complete(batch))
                if self.stream is not None:
                    self.stream.consumed(batch)
                self.state.step += 1
                self.state.global_step += 1
                progress.update()
                progress.set_postfix(epoch=self.state.epoch, **{k: f"{v:.3f}" for k, v in terms.items()})
                if training.log_with:
                    self.accelerator.log(
                        {f"loss/{k}": v for k, v in terms.items()} | {"lr": self.scheduler.get_last_lr()[0]},
                        step=self.state.global_step,
                    )
                if training.save_every_steps and self.state.global_step % training.save_every_steps == 0:
                    self.save_checkpoint()
                if stop_after_steps and self.state.global_step >= stop_after_steps:
                    self.save_checkpoint()
                    progress.close()
                    return None
                if self.state.step == steps_per_epoch:
                    self.end_epoch()
        progress.close()
        if self.weight_average is not None and self.weight_average.count:
            student = self.accelerator.unwrap_model(self.module).student
            self.validate(self.weight_average.averaged_copy(student), weights="swa")
        logger.info("trained %d epochs in %.0f s", training.epochs, time.perf_counter() - started)
        self.accelerator.end_training()
        return self.finish()

    def end_epoch(self) -> None:
        """Weight averaging, validation and a checkpoint, after the last step of an epoch."""
        training = self.config.training
        self.state.epoch += 1
        self.state.step = 0
        module = self.accelerator.unwrap_model(self.module)
        if self.weight_average is not None and self.state.epoch >= training.swa_start_epoch:
            self.weight_average.update(module.student)
        if module.frozen_stages is not None and module.frozen_stages.cache is not None:
            logger.info(module.frozen_stages.report())
        if self.state.epoch % training.validate_every_epochs == 0 or self.state.epoch == training.epochs:
            self.validate()
        self.save_checkpoint()
        self.module.train()

    # --- validation and the final model ---------------------------------------------------------------

    def captioner(self, student: EffNetTrmForAudioCaptioning | None = None) -> Captioner:
        return Captioner(student or self.accelerator.unwrap_model(self.module).student, self.tokenizer)

    def _caption_validation_split(self, student: EffNetTrmForAudioCaptioning) -> list[str]:
        """Every process captions its share of the validation clips (none waits idle for the main
        one to caption them all); the main process gets them all, in order."""
        rank, world = self.accelerator.process_index, self.accelerator.num_processes
        share = self.validation_rows.select(range(rank, len(self.validation_rows), world))
        captions = evaluation_runner.caption_split(
            self.captioner(student),
            share,
            progress=False,
            num_beams=self.config.training.num_beams,
            max_new_tokens=self.config.training.max_words,
        )
        if world == 1:
            return captions
        gathered = gather_object([(rank + world * i, caption) for i, caption in enumerate(captions)])
        return [caption for _, caption in sorted(gathered)]

    def validate(self, student: EffNetTrmForAudioCaptioning | None = None, weights: str = "epoch") -> float:
        """Score `student` (default: the one being trained; `weights` names it: "epoch" or "swa") and
        keep it as the best model folder when it wins under `selection_key`."""
        training = self.config.training
        student = student or self.accelerator.unwrap_model(self.module).student
        student.eval()
        predictions = self._caption_validation_split(student)
        student.train()
        if not self.accelerator.is_main_process:
            return math.nan
        references = [list(r) for r in self.validation_rows["captions"]]
        scores = caption_metrics.compute_caption_metrics(
            predictions, references, metrics=caption_metrics.VALIDATION_METRICS
        )
        metric = training.selection_metric
        if metric not in scores.corpus:
            raise RuntimeError(f"validation metric {metric} unavailable: {scores.unavailable.get(metric)}")
        score = scores.corpus[metric]
        distinct = caption_metrics.distinct_captions(predictions)
        measured = {**scores.corpus, "distinct_captions": distinct, "distinct_fraction": distinct / len(predictions)}
        self.state.history.append({"epoch": self.state.epoch, "weights": weights, **measured})
        if self.config.training.log_with:
            self.accelerator.log({f"validation/{k}": v for k, v in measured.items()}, step=self.state.global_step)
        key = selection_key(score, measured["distinct_fraction"], training.min_distinct_fraction)
        selected = key > (self.state.best_eligible, self.state.best_score)
        name = (
            f"epoch {self.state.epoch}"
            if weights == "epoch"
            else f"average of epochs {training.swa_start_epoch}-{self.state.epoch}"
        )
        self.accelerator.print(
            f"{name} validation: "
            + ", ".join(f"{k} {v:.4f}" for k, v in scores.corpus.items())
            + f", distinct captions {distinct} of {len(predictions)}"
            + ("" if key[0] else f" (below training.min_distinct_fraction {training.min_distinct_fraction})")
            + (" -> selected" if selected else "")
        )
        if selected:
            self.state.best_eligible, self.state.best_score, self.state.best_epoch = *key, self.state.epoch
            self.state.best_weights = weights
            with atomic_folder(self.best_dir) as folder:  # never a half-saved "best" for `finish` to copy
                save_model_folder(student, self.tokenizer, folder)
        return score

    @property
    def best_dir(self) -> Path:
        return self.output_dir / "best"

    @property
    def model_dir(self) -> Path:
        return Path(self.config.model_dir) if self.config.model_dir else self.output_dir / "model"

    def finish(self) -> Path | None:
        if not self.accelerator.is_main_process:
            return None
        # assembled beside the model folder and renamed into place: a stop meanwhile keeps the old one
        with atomic_folder(self.model_dir) as folder:
            shutil.copytree(self.best_dir, folder, dirs_exist_ok=True)
            update_model_card(
                folder,
                training_details=training_details(self.config, self.state),
                training_data=training_data_facts(self.config),
                longest_clip_seconds=self.config.data.crop_seconds,
            )
            (folder / "training_config.json").write_text(json.dumps(self.config.to_dict(), indent=2) + "\n")
        if self.config.push_to_hub:
            api = HfApi()
            api.create_repo(self.config.push_to_hub, exist_ok=True)
            api.upload_folder(folder_path=str(self.model_dir), repo_id=self.config.push_to_hub)
        return self.model_dir


def selection_note(config: DistillConfig, state: TrainerState, best: dict) -> str:
    """Which checkpoint the folder holds and why, in a sentence."""
    training = config.training
    distinct = (
        f"{best['distinct_captions']} distinct validation captions ({best['distinct_fraction']:.0%})"
        if "distinct_captions" in best
        else "distinct captions not recorded"
    )
    validated = len(state.history or [])
    if state.best_weights == "swa":
        return (
            f"The weights are the average of those after epochs {training.swa_start_epoch}-{state.best_epoch} "
            f"(SWA). " + selection_note(config, replace(state, best_weights="epoch"), best)
        )
    if not training.min_distinct_fraction:
        return (
            f"Selected: the best {training.selection_metric} of {validated} validations (the paper's rule); {distinct}."
        )
    if state.best_eligible:
        return (
            f"Selected: the best {training.selection_metric} of the validations whose captions were at least "
            f"{training.min_distinct_fraction:.0%} distinct (training.min_distinct_fraction); {distinct}."
        )
    return (
        f"**Warning**: no validation reached {training.min_distinct_fraction:.0%} distinct captions "
        f"(training.min_distinct_fraction): this is the best {training.selection_metric} of {validated} "
        f"validations, and it may have collapsed onto a few sentences; {distinct}."
    )


def _on_off(flag) -> str:
    return "on" if flag else "off"


def training_details(config: DistillConfig, state: TrainerState) -> str:
    """The model card's Training section: how the checkpoint was trained and selected, and its validation
    scores. (The card around it is written by the model's `save_pretrained`: `modelcard_effnet_trm`.)"""
    best = next(
        (
            h
            for h in state.history or []
            if h["epoch"] == state.best_epoch and h.get("weights", "epoch") == state.best_weights
        ),
        {},
    )
    not_scores = ("epoch", "weights", "distinct_captions", "distinct_fraction")
    rows = "\n".join(f"| {k} | {v:.4f} |" for k, v in best.items() if k not in not_scores)
    kd, training, data = config.kd, config.training, config.data
    scheduled_sampling = (
        f"linear to {training.scheduled_sampling_final_ratio}" if training.scheduled_sampling_final_ratio < 1 else "off"
    )
    weight_averaging = f"from epoch {training.swa_start_epoch}" if training.swa_start_epoch else "off"
    frozen = training.frozen_encoder_stages
    if training.freeze_encoder_head:
        encoder = "frozen whole (its weights as initialised), only the decoder trained"
    elif frozen:
        encoder = f"stem and first {frozen} stages frozen (their weights as initialised), the rest trained"
    else:
        encoder = "trained whole"
    if config.model.encoder_init_from:
        encoder += f", initialised from `{config.model.encoder_init_from}`"
    audio_only_batch = training.audio_only_batch_size if data.audio_only_split else 0
    validated_weights = f"{'SWA up to ' if state.best_weights == 'swa' else ''}epoch {state.best_epoch}"
    return f"""Trained with `train_distill.py` from the effnet-trm package.

- Data: `{data.dataset}` (labelled split `{data.train_split}`, audio-only split
  `{data.audio_only_split}`), teacher cache `{data.teacher_cache}`, {data.crop_seconds:g} s crops.
- Losses: L_sup (weight {kd.sup_weight}) + L_seq ({_on_off(kd.sequence_kd)}, weight {kd.seq_weight})
  + L_enc `{kd.encoder_loss}` (weight {kd.enc_weight}); sequence KD targets: `{kd.sequence_kd_choice}`.
- Regularisers: SpecAugment {_on_off(training.spec_augment)}, scheduled sampling {scheduled_sampling},
  weight averaging {weight_averaging}.
- Encoder: {encoder}.
- {training.epochs} epochs, {training.labelled_batch_size} labelled + {audio_only_batch} audio-only clips per step,
  peak LR {training.lr}.

### Validation scores of this checkpoint ({validated_weights}, beam {training.num_beams})

{selection_note(config, state, best)}

| metric | score |
|---|---|
{rows}
"""


def training_data_facts(config: DistillConfig) -> dict:
    """The model card's training-data facts: the corpus, its splits and the licences its `license` column
    lists (read from a local corpus; a streamed pool's licences are not known here)."""
    data = config.data
    splits = [(data.dataset, data.train_split)]
    if data.audio_only_split and not data.audio_only_streaming:
        splits.append((data.audio_only_dataset or data.dataset, data.audio_only_split))
    licences, unknown = set(), []
    for folder, split in splits:
        try:
            column = load_from_disk(folder)[split]["license"] if Path(folder).is_dir() else None
        except (KeyError, FileNotFoundError, ValueError):
            column = None
        if column is None:
            unknown.append(f"`{folder}` split `{split}`")
            continue
        licences.update(part for value in column for part in str(value).split("|") if part)
    described = f"`{data.dataset}`: labelled split `{data.train_split}`" + (
        f", audio-only split `{data.audio_only_split}`"
        + (f" of `{data.audio_only_dataset}`" if data.audio_only_dataset else "")
        if data.audio_only_split
        else ""
    )
    if unknown:
        described += f". Licences not recorded for {', '.join(unknown)}."
    return {"name": data.dataset, "description": described + ".", "licenses": sorted(licences)}
