"""Training the demo-size HTSAT-BART teacher on the embedded corpus (no WavCaps weights exist here).

The teacher learns from the `train` *and* `audio_only` captions: that stands in for a real teacher
trained on far more data than the student's labelled set (WavCaps' 400k clips against AudioCaps'
50k). The student never reads the `audio_only` captions. The result is saved in WavCaps' checkpoint
layout (`teacher.pt`) with its word tokenizer, and loads through the same strict loader as a real
WavCaps checkpoint.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..atomic import atomic_folder
from ..data import decode_split
from ..tokenization import build_word_tokenizer, caption_labels
from .htsat import HTSATOutput
from .htsat_bart import CHECKPOINT_FILE, HTSATBartCaptioner, HTSATBartTeacher, save_wavcaps_checkpoint

logger = logging.getLogger(__name__)

TEACHER_SPLITS = ("train", "audio_only")


def train_demo_teacher(
    dataset_dir: str,
    out_dir: str | Path,
    epochs: int = 12,
    batch_size: int = 16,
    lr: float = 1e-3,
    seed: int = 0,
    max_words: int = 28,
    encoder_init: str | Path | None = None,
    freeze_encoder: bool = False,
) -> HTSATBartTeacher:
    """Train the `demo` HTSAT-BART on `dataset_dir`'s train + audio_only splits; save it to `out_dir`.

    `encoder_init`: a pretrained HTSAT folder (`pretrain_encoder.py --encoder htsat_demo`), as WavCaps
    starts its HTSAT from AudioSet weights; without it HTSAT starts from random weights.
    `freeze_encoder`: keep HTSAT as initialised and train the projection and BART only. HTSAT's
    frames are then computed once, so an epoch costs a small fraction of an end-to-end one: on 360
    clips, fine-tuning the whole encoder at this learning rate wears its AudioSet knowledge away
    before BART has learnt to read it, and the decoder falls back on its language prior.
    """
    from datasets import concatenate_datasets, load_from_disk

    if freeze_encoder and encoder_init is None:
        raise ValueError("freeze_encoder keeps HTSAT as initialised: give it a pretrained encoder_init")
    torch.manual_seed(seed)
    corpus = load_from_disk(dataset_dir)
    rows = concatenate_datasets([corpus[split] for split in TEACHER_SPLITS])
    captions = [list(c) for c in rows["captions"]]
    tokenizer = build_word_tokenizer(c for caps in captions for c in caps)
    waveforms = decode_split(rows, HTSATBartTeacher.sampling_rate, desc="decoding teacher data")
    model = HTSATBartCaptioner.for_tokenizer("demo", tokenizer)
    if encoder_init is not None:
        from ..pretrain.encoders import HTSATDemoEncoder
        from ..pretrain.trainer import load_into

        loaded = load_into(model.encoder.audio_enc, encoder_init, HTSATDemoEncoder.name, HTSATDemoEncoder.not_saved)
        logger.info("HTSAT initialised from %s (%d tensors)", encoder_init, loaded)
    frames = _frozen_frames(model, waveforms, batch_size) if freeze_encoder else None
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=lr, weight_decay=1e-2)
    steps_per_epoch = math.ceil(len(rows) / batch_size)
    total = epochs * steps_per_epoch
    warmup = max(1, total // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(step, total) / total))
    )
    rng = np.random.default_rng(seed)
    model.train()
    if freeze_encoder:
        model.encoder.eval()  # no dropout or drop-path in a module that is not trained
    started = time.perf_counter()
    progress = tqdm(total=total, desc="training demo teacher", unit="step")
    for epoch in range(epochs):
        for batch in np.array_split(rng.permutation(len(rows)), steps_per_epoch):
            texts = [captions[i][int(rng.integers(len(captions[i])))] for i in batch]
            # WavCaps' targets: the tokenised caption with its <bos> ... <eos>
            labels = caption_labels(tokenizer, texts, max_words=max_words)
            labels = torch.cat([labels.new_full((len(batch), 1), tokenizer.bos_token_id), labels], dim=1)
            if frames is None:
                loss = model(torch.from_numpy(np.stack([waveforms[i] for i in batch])), labels)
            else:
                loss = model.caption_loss(model.project(frames[torch.from_numpy(batch)]), labels)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"teacher loss became {loss.item()} at epoch {epoch}")
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trained, 2.0)
            optimizer.step()
            optimizer.zero_grad()
            scheduler.step()
            progress.update()
            progress.set_postfix(epoch=epoch, loss=f"{loss.item():.3f}")
    progress.close()
    logger.info("demo teacher trained in %.0f s", time.perf_counter() - started)

    model.eval()
    with atomic_folder(out_dir) as folder:  # the demo reuses a teacher folder that has the checkpoint
        save_wavcaps_checkpoint(
            model,
            folder / CHECKPOINT_FILE,
            "demo",
            trained_on=dataset_dir,
            epochs=epochs,
            encoder_init=str(encoder_init) if encoder_init else None,
            encoder_frozen=freeze_encoder,
        )
        tokenizer.save_pretrained(folder)
    return HTSATBartTeacher.from_pretrained(out_dir)


@torch.no_grad()
def _frozen_frames(model: HTSATBartCaptioner, waveforms: list[np.ndarray], batch_size: int) -> _IndexedOutput:
    """Freeze HTSAT and compute its output for every clip once."""
    encoder = model.encoder.audio_enc.requires_grad_(False).eval()
    outputs = [
        encoder(torch.from_numpy(np.stack(waveforms[i : i + batch_size])))
        for i in tqdm(range(0, len(waveforms), batch_size), desc="frozen HTSAT frames", unit="batch")
    ]
    return _IndexedOutput(torch.cat([o.frames for o in outputs]), torch.cat([o.clip for o in outputs]))


class _IndexedOutput(HTSATOutput):
    """Cached HTSAT outputs of a whole split; indexing by clip numbers gives a batch's output."""

    def __getitem__(self, index: torch.Tensor) -> HTSATOutput:
        return HTSATOutput(self.frames[index], self.clip[index])
