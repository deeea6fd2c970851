"""HTSAT-BART, the WavCaps captioner the paper distils from, rebuilt so WavCaps checkpoints load strictly.

Checkpoint layout (WavCaps `train.py`): `{"model": state_dict, "config": {...}}` with keys
`encoder.audio_enc.*` (HTSAT, including the frozen STFT/mel weights), `decoder.model.{shared,
encoder,decoder}.*` and `decoder.lm_head.weight` (BART), and `enc_to_dec_proj.*` (768 -> 768).
Audio frames (HTSAT's 32 frames, each repeated 32 times) go through the projection into BART's
encoder as `inputs_embeds`; captions come from BART's `generate` (3 beams, at most 30 tokens).

Two sizes: `full` (WavCaps: HTSAT 96-d/[2,2,6,2] + BART-base, ~171 M parameters) and `demo` (a
reduced HTSAT and BART with a word vocabulary, trainable on the embedded demo corpus on a CPU).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn
from transformers import BartConfig, BartForConditionalGeneration

from .base import Hypothesis, Teacher, TeacherEmbeddings
from .htsat import HTSAT, HTSATConfig, HTSATOutput

logger = logging.getLogger(__name__)

CONFIG_DIR = Path(__file__).parent / "configs"
CHECKPOINT_FILE = "teacher.pt"
#: WavCaps pads or truncates every clip to 10 s before HTSAT (`test.py`); we pad, and refuse longer clips.
CLIP_SECONDS = 10.0
BART_TOKENIZER = "facebook/bart-base"

HTSAT_SIZES = {
    "full": HTSATConfig(),
    "demo": HTSATConfig(
        embed_dim=48,
        patch_size=8,
        patch_stride=8,
        depths=[1, 1, 1],
        num_heads=[2, 4, 8],
        drop_path_rate=0.05,
        frame_repeat=1,
    ),
}
BART_CONFIGS = {"full": "bart-base.json", "demo": "bart-demo.json"}

#: Checkpoint keys that may be absent or present without harm, and why (listed by the loader).
IGNORABLE_KEYS = {
    "decoder.final_logits_bias": "BART's all-zero logits bias buffer; absent from some transformers versions",
}


def _bart_values(size: str) -> dict:
    return json.loads((CONFIG_DIR / BART_CONFIGS[size]).read_text())


def bart_config(size: str, **overrides) -> BartConfig:
    values = {k: v for k, v in _bart_values(size).items() if not k.startswith("_") and k != "model_type"}
    return BartConfig(**{**values, **overrides})


class AudioEncoder(nn.Module):
    """Holds HTSAT as `audio_enc`, WavCaps' `AudioEncoderModel` naming."""

    def __init__(self, config: HTSATConfig):
        super().__init__()
        self.audio_enc = HTSAT(config)


class HTSATBartCaptioner(nn.Module):
    """HTSAT encoder + projection + BART encoder-decoder."""

    def __init__(self, htsat_config: HTSATConfig, bart: BartConfig):
        super().__init__()
        self.htsat_config = htsat_config
        self.encoder = AudioEncoder(htsat_config)
        self.decoder = BartForConditionalGeneration(bart)
        self.enc_to_dec_proj = nn.Linear(htsat_config.num_features, bart.d_model)

    @classmethod
    def from_size(cls, size: str, **bart_overrides) -> HTSATBartCaptioner:
        model = cls(HTSAT_SIZES[size], bart_config(size, **bart_overrides))
        # the decoding settings WavCaps got from bart-base's config (transformers now keeps them apart)
        generation = dict(_bart_values(size)["_generation"])
        for key in ("forced_bos_token_id", "forced_eos_token_id"):
            if key in bart_overrides:
                generation[key] = bart_overrides[key]
        model.decoder.generation_config.update(**generation)
        return model

    @classmethod
    def for_tokenizer(cls, size: str, tokenizer) -> HTSATBartCaptioner:
        """A `size` model whose vocabulary and special tokens are `tokenizer`'s (a word tokenizer of
        `build_word_tokenizer`): BART starts decoding from </s> and is forced to open with <s>."""
        return cls.from_size(
            size,
            vocab_size=len(tokenizer),
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            decoder_start_token_id=tokenizer.eos_token_id,
            forced_bos_token_id=tokenizer.bos_token_id,
            forced_eos_token_id=tokenizer.eos_token_id,
        )

    def encode_audio(self, waveform: torch.Tensor):
        """(batch, samples) at 32 kHz -> (HTSAT output, projected 1024-position sequence for BART)."""
        audio = self.encoder.audio_enc(waveform)
        return audio, self.project(audio)

    def project(self, audio: HTSATOutput) -> torch.Tensor:
        """HTSAT's frames -> BART's input sequence (WavCaps' fine-grained embedding, projected)."""
        return self.enc_to_dec_proj(audio.fine_grained(self.htsat_config.frame_repeat))

    def bart_encoder_outputs(self, projected: torch.Tensor):
        return self.decoder.model.encoder(inputs_embeds=projected, return_dict=True)

    def forward(self, waveform: torch.Tensor, labels: torch.Tensor, label_smoothing: float = 0.1) -> torch.Tensor:
        """Cross-entropy (label smoothing 0.1, as WavCaps trains) of `labels` (-100 = ignore)."""
        _, projected = self.encode_audio(waveform)
        return self.caption_loss(projected, labels, label_smoothing)

    def caption_loss(self, projected: torch.Tensor, labels: torch.Tensor, label_smoothing: float = 0.1) -> torch.Tensor:
        """The loss of `forward` from BART's input sequence (HTSAT's output already projected)."""
        start = self.decoder.config.decoder_start_token_id
        decoder_input_ids = torch.cat([labels.new_full((labels.shape[0], 1), start), labels[:, :-1]], dim=1)
        decoder_input_ids = decoder_input_ids.masked_fill(decoder_input_ids == -100, self.decoder.config.pad_token_id)
        logits = self.decoder(
            encoder_outputs=(self.bart_encoder_outputs(projected).last_hidden_state,),
            decoder_input_ids=decoder_input_ids,
            return_dict=True,
        ).logits
        return nn.functional.cross_entropy(
            logits.flatten(0, 1), labels.flatten(), ignore_index=-100, label_smoothing=label_smoothing
        )

    @torch.no_grad()
    def generate_ids(self, waveform: torch.Tensor, num_beams: int = 3, max_length: int = 30) -> tuple:
        audio, projected = self.encode_audio(waveform)
        encoder_outputs = self.bart_encoder_outputs(projected)
        start = torch.full((waveform.shape[0], 1), self.decoder.config.decoder_start_token_id, device=waveform.device)
        ids = self.decoder.generate(
            encoder_outputs=encoder_outputs,
            decoder_input_ids=start,
            num_beams=num_beams,
            max_length=max_length,
            min_length=2,
            repetition_penalty=1.0,
        )
        return audio, ids

    @torch.no_grad()
    def generate_hypotheses(
        self, waveform: torch.Tensor, num_beams: int = 3, max_length: int = 30, num_samples: int = 0
    ) -> tuple:
        """Every beam (best first) and `num_samples` sampled captions per clip, with their scores.

        Returns the audio output, the beams' ids `(batch * num_beams, length)` and sequence scores
        (beam search's length-normalised log-probabilities), then the samples' ids and scores (their
        mean token log-probability, on the same scale) or None when `num_samples` is 0.
        """
        audio, projected = self.encode_audio(waveform)
        start = torch.full((waveform.shape[0], 1), self.decoder.config.decoder_start_token_id, device=waveform.device)
        search = {
            "decoder_input_ids": start,
            "max_length": max_length,
            "min_length": 2,
            "repetition_penalty": 1.0,
            "output_scores": True,
            "return_dict_in_generate": True,
        }
        # fresh encoder outputs per call: generate expands them in place to its beams or samples
        beams = self.decoder.generate(
            encoder_outputs=self.bart_encoder_outputs(projected),
            **search,
            num_beams=num_beams,
            num_return_sequences=num_beams,
        )
        if not num_samples:
            return audio, beams.sequences, beams.sequences_scores, None, None
        samples = self.decoder.generate(
            encoder_outputs=self.bart_encoder_outputs(projected),
            **search,
            do_sample=True,
            num_beams=1,
            num_return_sequences=num_samples,
        )
        return audio, beams.sequences, beams.sequences_scores, samples.sequences, self._mean_log_probability(samples)

    def _mean_log_probability(self, generated) -> torch.Tensor:
        """Mean log-probability of each sampled caption's tokens, up to and including its end token."""
        token_scores = self.decoder.compute_transition_scores(
            generated.sequences, generated.scores, normalize_logits=True
        )
        tokens = generated.sequences[:, -token_scores.shape[1] :]
        ended = (tokens == self.decoder.config.eos_token_id).long()
        counted = (ended.cumsum(dim=1) - ended) == 0  # no end token before this position
        # torch.where, not a product: scores after the end token may be -inf (forced padding)
        return torch.where(counted, token_scores, 0.0).sum(dim=1) / counted.sum(dim=1).clamp(min=1)


# --- WavCaps checkpoints ------------------------------------------------------------------------------


def load_wavcaps_checkpoint(path: str | Path, size: str | None = None) -> tuple[HTSATBartCaptioner, dict]:
    """Rebuild HTSAT-BART from a WavCaps checkpoint, strictly.

    Returns the model and a report `{"ignored": {key: reason}}`. Any other missing or unexpected key
    raises `KeyError` listing them.
    """
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict) or "model" not in checkpoint:
        raise ValueError(f"{path}: not a WavCaps checkpoint (expected a dict with a 'model' state dict)")
    state = checkpoint["model"]
    config = checkpoint.get("config") or {}
    size = size or config.get("effnet_trm_size", "full")
    bart_overrides = config.get("bart_overrides", {})
    model = HTSATBartCaptioner.from_size(size, **bart_overrides)
    expected = set(model.state_dict())
    given = set(state)
    ignored = {k: IGNORABLE_KEYS[k] for k in (expected ^ given) if k in IGNORABLE_KEYS}
    missing = sorted(expected - given - set(ignored))
    unexpected = sorted(given - expected - set(ignored))
    if missing or unexpected:
        raise KeyError(
            f"{path} does not match HTSAT-BART ({size}): missing {missing[:10]}{'...' if len(missing) > 10 else ''}, "
            f"unexpected {unexpected[:10]}{'...' if len(unexpected) > 10 else ''}"
        )
    model.load_state_dict({k: v for k, v in state.items() if k not in ignored}, strict=False)
    for key, reason in ignored.items():
        logger.info("ignored %s: %s", key, reason)
    return model.eval(), {"ignored": ignored}


def save_wavcaps_checkpoint(model: HTSATBartCaptioner, path: str | Path, size: str, **config) -> None:
    """Write `model` in WavCaps' checkpoint layout (plus what this package needs to rebuild its size)."""
    bart = model.decoder.config
    keys = ("vocab_size", "pad_token_id", "bos_token_id", "eos_token_id", "decoder_start_token_id")
    overrides = {key: getattr(bart, key) for key in keys if getattr(bart, key, None) is not None}
    generation = model.decoder.generation_config  # where transformers keeps the forced ids now
    for key in ("forced_bos_token_id", "forced_eos_token_id"):
        if getattr(generation, key, None) is not None:
            overrides[key] = getattr(generation, key)
    payload = {
        "model": model.state_dict(),
        "config": {"effnet_trm_size": size, "bart_overrides": overrides, "htsat": asdict(model.htsat_config), **config},
    }
    torch.save(payload, path)


# --- the Teacher ----------------------------------------------------------------------------------------


class HTSATBartTeacher(Teacher):
    """HTSAT-BART behind the :class:`Teacher` interface (32 kHz input, 768-d clip embeddings at full size).

    Clips are zero-padded to 10 s, as WavCaps evaluates them; a clip longer than HTSAT's 10.23 s
    window raises an error: split long recordings into crops first (the teacher cache does).
    """

    sampling_rate = 32000

    def __init__(self, model: HTSATBartCaptioner, tokenizer, device: str = "cpu"):
        self.model = model.eval().to(device)
        self.tokenizer = tokenizer
        self.device = device
        self.embedding_dim = model.htsat_config.num_features
        self.max_samples = model.htsat_config.max_samples

    @classmethod
    def from_pretrained(cls, folder: str | Path, device: str = "cpu") -> HTSATBartTeacher:
        """A folder with `teacher.pt` (WavCaps layout) and a tokenizer (or none: BART's, by name when online)."""
        from transformers import AutoTokenizer, PreTrainedTokenizerFast

        folder = Path(folder)
        model, _ = load_wavcaps_checkpoint(folder / CHECKPOINT_FILE)
        if (folder / "tokenizer.json").exists():
            tokenizer = PreTrainedTokenizerFast.from_pretrained(folder)
        else:
            tokenizer = AutoTokenizer.from_pretrained(BART_TOKENIZER)
        return cls(model, tokenizer, device)

    def batch(self, waveforms: Sequence[np.ndarray]) -> torch.Tensor:
        limit = self.max_samples
        length = int(CLIP_SECONDS * self.sampling_rate)
        rows = torch.zeros(len(waveforms), max(length, max(len(w) for w in waveforms)))
        for i, wave in enumerate(waveforms):
            if len(wave) > limit:
                raise ValueError(
                    f"clip {i} is {len(wave) / self.sampling_rate:.2f} s; HTSAT takes at most "
                    f"{limit / self.sampling_rate:.2f} s: split it into crops first"
                )
            rows[i, : len(wave)] = torch.as_tensor(wave)
        return rows[:, : max(length, max(len(w) for w in waveforms))].to(self.device)

    @torch.no_grad()
    def embed(self, waveforms: Sequence[np.ndarray]) -> TeacherEmbeddings:
        audio = self.model.encoder.audio_enc(self.batch(waveforms))
        return TeacherEmbeddings(clip=audio.clip.cpu(), frames=audio.frames.cpu())

    def caption(self, waveforms: Sequence[np.ndarray], num_beams: int = 3, max_length: int = 30) -> list[str]:
        return self.embed_and_caption(waveforms, num_beams, max_length)[1]

    @torch.no_grad()
    def embed_and_caption(self, waveforms, num_beams: int = 3, max_length: int = 30):
        audio, ids = self.model.generate_ids(self.batch(waveforms), num_beams=num_beams, max_length=max_length)
        captions = [text.strip() for text in self.tokenizer.batch_decode(ids, skip_special_tokens=True)]
        return TeacherEmbeddings(clip=audio.clip.cpu(), frames=audio.frames.cpu()), captions

    @torch.no_grad()
    def embed_and_hypotheses(self, waveforms, num_beams: int = 3, num_samples: int = 0, max_length: int = 30):
        audio, beam_ids, beam_scores, sample_ids, sample_scores = self.model.generate_hypotheses(
            self.batch(waveforms), num_beams=num_beams, max_length=max_length, num_samples=num_samples
        )
        hypotheses = [[] for _ in waveforms]
        for ids, scores, per_clip, source in (
            (beam_ids, beam_scores, num_beams, "beam"),
            (sample_ids, sample_scores, num_samples, "sample"),
        ):
            if ids is None:
                continue
            texts = self.tokenizer.batch_decode(ids, skip_special_tokens=True)
            for row, (text, score) in enumerate(zip(texts, scores.tolist())):
                hypotheses[row // per_clip].append(Hypothesis(text.strip(), score, source))
        return TeacherEmbeddings(clip=audio.clip.cpu(), frames=audio.frames.cpu()), hypotheses


def parameter_counts(model: nn.Module) -> dict[str, int]:
    """Parameters of the teacher and of its parts (tied BART embeddings counted once)."""

    def count(module):
        return sum(p.numel() for p in module.parameters())

    htsat = model.encoder.audio_enc
    return {
        "htsat": count(htsat),
        "htsat_frozen_front_end": count(htsat.audio_feats_extractor),
        "htsat_unused_head": count(htsat.tscam_conv) + count(htsat.head),
        "bart": count(model.decoder),
        "projection": count(model.enc_to_dec_proj),
        "total": count(model),
    }
