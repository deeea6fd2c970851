#!/usr/bin/env python
"""Check the checkpoint converter against the authors' own code (wsntxxn/AudioCaption).

    pip install einops efficientnet_pytorch   # imported by their hf_wrapper.py
    python benchmarks/check_against_authors.py --authors-repo /path/to/AudioCaption

Their `Effb2TrmCaptioningModel` (`captioning/models/hf_wrapper.py`) is built with random weights:
batch-norm statistics measured on real recordings, decoder weights scaled so that captions depend on
the audio and end before the length limit. It is saved in two layouts, both converted by
`convert_reference_checkpoint.py`'s `convert`:

- **release**: the Hub folder's `pytorch_model.bin` (556 tensors, KD heads and the Xavier-noise
  positional table included), compared with that same model;
- **training**: a trainer checkpoint (`{"model", "tokenizer", ...}`, trainable tensors and buffers,
  no positional table), compared with their model loaded from it as their code does (a fresh noise
  table; we store zeros).

Each is compared on real recordings (the demo corpus's packaged sounds,
`effnet_trm.data.sources.collect_recordings`) and on random encoder outputs: encoder frames, logits
(teacher-forced on their greedy caption), and the greedy and beam-3 captions of the converted folder
as `Captioner` produces them (the fast search; beam 3 with the folder's `beam_rule="reference"`, and
with transformers' rule for comparison). A table in Markdown is printed.

torchaudio has no build for the installed torch: when it cannot be imported, the two transforms their
front end uses are replaced, only while their module is imported, by the stand-ins below.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import math
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from effnet_trm.conversion.reference import convert  # noqa: E402 (after the sys.path entry)
from effnet_trm.decoding import search_memory  # noqa: E402
from effnet_trm.inference import Captioner  # noqa: E402
from modeling_effnet_trm import EffNetTrmEncoderOutput, sinusoidal_position_embedding  # noqa: E402

SR = 16000
MAX_LENGTH = 20
BEAMS = 3


# --- torchaudio stand-in ----------------------------------------------------------------------------
# The semantics of torchaudio 2.x's MelSpectrogram (defaults: Hann window, centred reflect-padded STFT,
# power 2, HTK mel filters without normalisation, computed in float32) and AmplitudeToDB (power to dB,
# floored at 1e-10 and at top_db below the maximum of the whole batch for a (batch, mels, frames) input),
# written from their documentation; the tensors are registered under torchaudio's names
# (`spectrogram.window`, `mel_scale.fb`), so their state-dict keys are the released ones.


def _hz_to_mel(frequency):
    return 2595.0 * math.log10(1.0 + frequency / 700.0)


def _mel_filterbank_float32(n_freqs: int, f_min: float, f_max: float, n_mels: int, sample_rate: int) -> torch.Tensor:
    all_freqs = torch.linspace(0, sample_rate // 2, n_freqs)
    mel_points = torch.linspace(_hz_to_mel(f_min), _hz_to_mel(f_max), n_mels + 2)
    hz_points = 700.0 * (10.0 ** (mel_points / 2595.0) - 1.0)
    widths = hz_points[1:] - hz_points[:-1]
    slopes = hz_points.unsqueeze(0) - all_freqs.unsqueeze(1)
    falling, rising = -slopes[:, :-2] / widths[:-1], slopes[:, 2:] / widths[1:]
    return torch.max(torch.zeros(1), torch.min(falling, rising))


class _Spectrogram(nn.Module):
    def __init__(self, n_fft: int, win_length: int, hop_length: int):
        super().__init__()
        self.n_fft, self.win_length, self.hop_length = n_fft, win_length, hop_length
        self.register_buffer("window", torch.hann_window(win_length))

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        flat = waveform.reshape(-1, waveform.shape[-1])
        spectrum = torch.stft(
            flat,
            self.n_fft,
            self.hop_length,
            self.win_length,
            self.window,
            center=True,
            pad_mode="reflect",
            normalized=False,
            onesided=True,
            return_complex=True,
        )
        return spectrum.abs().pow(2.0).reshape(*waveform.shape[:-1], *spectrum.shape[-2:])


class _MelScale(nn.Module):
    def __init__(self, n_mels: int, sample_rate: int, f_min: float, f_max: float, n_stft: int):
        super().__init__()
        self.register_buffer("fb", _mel_filterbank_float32(n_stft, f_min, f_max, n_mels, sample_rate))

    def forward(self, spectrogram: torch.Tensor) -> torch.Tensor:
        return torch.matmul(spectrogram.transpose(-1, -2), self.fb).transpose(-1, -2)


class MelSpectrogram(nn.Module):
    """Stand-in for `torchaudio.transforms.MelSpectrogram` (the arguments their code passes)."""

    def __init__(
        self, sample_rate=16000, n_fft=400, win_length=None, hop_length=None, f_min=0.0, f_max=None, n_mels=128
    ):
        super().__init__()
        win_length = win_length or n_fft
        hop_length = hop_length or win_length // 2
        f_max = f_max if f_max is not None else float(sample_rate // 2)
        self.spectrogram = _Spectrogram(n_fft, win_length, hop_length)
        self.mel_scale = _MelScale(n_mels, sample_rate, float(f_min), f_max, n_fft // 2 + 1)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.mel_scale(self.spectrogram(waveform))


class AmplitudeToDB(nn.Module):
    """Stand-in for `torchaudio.transforms.AmplitudeToDB(stype="power")`."""

    def __init__(self, stype: str = "power", top_db: float | None = None):
        super().__init__()
        if stype != "power":
            raise NotImplementedError("the stand-in covers stype='power' only")
        self.top_db = top_db

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        decibels = 10.0 * torch.log10(torch.clamp(power, min=1e-10))
        if self.top_db is None:
            return decibels
        # torchaudio packs a 3-d input as the channels of one item: one maximum for the whole batch
        shape = decibels.shape
        packed = decibels.reshape(-1, shape[-3] if decibels.dim() > 2 else 1, shape[-2], shape[-1])
        floor = (packed.amax(dim=(-3, -2, -1)) - self.top_db).view(-1, 1, 1, 1)
        return torch.max(packed, floor).reshape(shape)


def _torchaudio_imports() -> bool:
    try:
        importlib.import_module("torchaudio.transforms")
    except Exception:  # noqa: BLE001 - not installed, or built for another torch
        return False
    return True


@contextlib.contextmanager
def torchaudio_stand_in():
    """`torchaudio` in sys.modules as the stand-in while the block runs, unless the real one imports."""
    if _torchaudio_imports():
        yield
        return
    saved = {name: sys.modules.pop(name) for name in list(sys.modules) if name.split(".")[0] == "torchaudio"}
    package = types.ModuleType("torchaudio")
    package.transforms = types.ModuleType("torchaudio.transforms")
    package.transforms.MelSpectrogram, package.transforms.AmplitudeToDB = MelSpectrogram, AmplitudeToDB
    sys.modules.update({"torchaudio": package, "torchaudio.transforms": package.transforms})
    try:
        yield
    finally:
        for name in ("torchaudio", "torchaudio.transforms"):
            sys.modules.pop(name, None)
        sys.modules.update(saved)


def import_authors_code(repo: Path):
    """Their self-contained Hub module `captioning/models/hf_wrapper.py`."""
    import transformers  # noqa: F401 - imported first: its import-time probes must not meet the stand-in

    sys.path.insert(0, str(repo / "captioning" / "models"))
    try:
        with torchaudio_stand_in():
            return importlib.import_module("hf_wrapper")
    finally:
        sys.path.pop(0)


# --- their model with random weights ---------------------------------------------------------------


def calibrate_batch_norms(backbone: nn.Module, log_mels: torch.Tensor) -> None:
    """Running statistics measured on real spectrograms (cumulative averages over one pass with every
    batch norm in training mode), so that the random network's activations have realistic scales."""
    norms = [m for m in backbone.modules() if isinstance(m, nn.BatchNorm2d)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
        norm.train()
    with torch.no_grad():
        for chunk in log_mels.split(4):
            backbone(chunk)
    for norm in norms:
        norm.eval()


def make_captions_vary(decoder: nn.Module) -> None:
    """Random Xavier weights give one caption for every input that never ends. Scaled so that the
    audio steers the words (stronger cross-attention output), the choices are clear (larger tied word
    embedding, i.e. sharper logits) and `<eos>` competes with the words (last layer's final bias
    moved towards the `<eos>` embedding)."""
    with torch.no_grad():
        for layer in decoder.model.layers:
            layer.multihead_attn.out_proj.weight.mul_(CROSS_ATTENTION_GAIN)
        decoder.word_embedding.weight.mul_(EMBEDDING_GAIN)
        eos = decoder.word_embedding.weight[2]
        decoder.model.layers[-1].norm3.bias.add_(EOS_PULL * eos / eos.norm())


CROSS_ATTENTION_GAIN, EMBEDDING_GAIN, EOS_PULL = 4.0, 2.0, 3.5


def build_authors_model(hf_wrapper, seed: int, calibration: torch.Tensor):
    torch.manual_seed(seed)
    model = hf_wrapper.Effb2TrmCaptioningModel(hf_wrapper.Effb2TrmConfig()).eval()
    encoder = model.model.model.encoder
    with torch.no_grad():
        log_mels = encoder.db_transform(encoder.melspec_extractor(calibration))
    calibrate_batch_norms(encoder.backbone, log_mels)
    make_captions_vary(model.model.model.decoder)
    return model


def training_state(model) -> dict[str, torch.Tensor]:
    """What their trainer saves (`saving_keys`): trainable parameters, then every buffer, under the
    training wrapper's names (`ContraEncoderKdWrapper` at the top: `model.encoder...`, `stdnt_proj...`)."""
    wrapper = model.model
    keys = [name for name, p in wrapper.named_parameters() if p.requires_grad] + [n for n, _ in wrapper.named_buffers()]
    state = wrapper.state_dict()
    return {key: state[key].clone() for key in keys}


def load_training_state(hf_wrapper, state: dict[str, torch.Tensor], seed: int):
    """Their model for a training checkpoint: built anew (a new noise table: not in the file), then loaded."""
    torch.manual_seed(seed)
    model = hf_wrapper.Effb2TrmCaptioningModel(hf_wrapper.Effb2TrmConfig()).eval()
    missing, unexpected = model.model.load_state_dict(state, strict=False)
    assert not unexpected and set(missing) == {"model.decoder.pos_encoder.pe", "model.decoder.classifier.weight"}, (
        missing,
        unexpected,
    )
    return model


# --- inputs ----------------------------------------------------------------------------------------


def real_clips(count: int, seconds: float) -> list[tuple[str, np.ndarray]]:
    """Up to `count` packaged recordings of at least 1 s, cut to `seconds`, from every package."""
    from effnet_trm.audio import AudioError, load_audio
    from effnet_trm.data.sources import collect_recordings

    recordings, missing = collect_recordings()
    if missing:
        print(f"packages not available: {missing}", file=sys.stderr)
    by_package: dict[str, list] = {}
    for recording in recordings:
        by_package.setdefault(recording.package, []).append(recording)
    clips = []
    while len(clips) < count and any(by_package.values()):
        for package in sorted(by_package):  # round robin: every package contributes
            if by_package[package] and len(clips) < count:
                recording = by_package[package].pop(0)
                try:
                    waveform = load_audio(recording.data, SR)
                except AudioError:
                    continue
                if waveform.size >= SR:
                    clips.append((recording.source, waveform[: int(seconds * SR)]))
    return clips


def random_memories(count: int, generator: torch.Generator, scale: float) -> list[tuple[torch.Tensor, int]]:
    """`count` encoder outputs `(frames, 1408)` of 4 to 32 frames, of the real frames' scale."""
    memories = []
    for _ in range(count):
        frames = int(torch.randint(4, 33, (1,), generator=generator))
        memory = torch.relu(torch.randn(frames, 1408, generator=generator)) * scale
        memories.append((memory, int(torch.randint(max(1, frames - 3), frames + 1, (1,), generator=generator))))
    return memories


# --- running both ----------------------------------------------------------------------------------


def words(ids, eos: int = 2) -> tuple[int, ...]:
    """A caption's word ids up to the first `<eos>` (their `seq` has no `<bos>`; strip ours first:
    a random model may generate `<start>` as a word, and neither side suppresses it)."""
    ids = [int(i) for i in ids]
    return tuple(ids[: ids.index(eos)] if eos in ids else ids)


def authors_decode(model, encoded: dict, method: str) -> list[tuple[int, ...]]:
    request = {"mode": "inference", "sample_method": method, "max_length": MAX_LENGTH, "temp": 1.0, "beam_size": BEAMS}
    with torch.no_grad():
        sequences = model.model.model.forward_decoder(request, dict(encoded))["seq"]
    return [words(row) for row in sequences]


def authors_logits(model, encoded: dict, caption: tuple[int, ...]) -> torch.Tensor:
    ids = torch.tensor([[1, *caption]])
    with torch.no_grad():
        return model.model.model.decoder(
            {
                "word": ids,
                "attn_emb": encoded["attn_emb"],
                "attn_emb_len": encoded["attn_emb_len"],
                "cap_padding_mask": ids == 0,
            }
        )["logit"][0]


def our_decode(model, memory: torch.Tensor, mask: torch.Tensor, num_beams: int, beam_rule: str):
    """What `Captioner` does after the encoder (`fast_generate`), for a given encoder output."""
    return [words(ids[1:]) for ids in search_memory(model, memory, mask, num_beams, MAX_LENGTH, beam_rule=beam_rule)]


def authors_outputs(authors, inputs: list[dict]) -> list[dict]:
    """Their greedy and beam-3 captions and their logits teacher-forced on the greedy one, per input."""
    outputs = []
    for item in inputs:
        greedy = authors_decode(authors, item["encoded"], "greedy")[0]
        outputs.append(
            {
                "greedy": greedy,
                "beam": authors_decode(authors, item["encoded"], "beam")[0],
                "logits": authors_logits(authors, item["encoded"], greedy),
            }
        )
    return outputs


def compare(theirs_outputs: list[dict], captioner, inputs: list[dict]) -> dict:
    """Per input (`encoded` by them, `ours`: our encoder output and mask): frame and logit differences
    and whether greedy and beam-3 captions are identical to theirs (`authors_outputs`)."""
    model = captioner.optimized_model
    result = {"frames": 0.0, "logits": 0.0, "greedy": 0, "beam": 0, "beam_transformers_rule": 0, "n": len(inputs)}
    memory = torch.nn.utils.rnn.pad_sequence([item["ours"][0] for item in inputs], batch_first=True)
    mask = torch.nn.utils.rnn.pad_sequence([item["ours"][1] for item in inputs], batch_first=True)
    with torch.inference_mode():
        ours = {
            "greedy": our_decode(model, memory, mask, 1, "reference"),
            "beam": our_decode(model, memory, mask, BEAMS, "reference"),
            "beam_transformers_rule": our_decode(model, memory, mask, BEAMS, "transformers"),
        }
    for index, item in enumerate(inputs):
        encoded = item["encoded"]
        valid = int(encoded["attn_emb_len"][0])
        if "frames" in item:
            theirs = encoded["attn_emb"][0, :valid]
            difference = (item["ours"][0][:valid] - theirs).abs().max() / theirs.abs().max()
            result["frames"] = max(result["frames"], float(difference))
        greedy, beam = theirs_outputs[index]["greedy"], theirs_outputs[index]["beam"]
        with torch.inference_mode():
            ids = torch.tensor([[1, *greedy]])
            our_logits = captioner.model(
                encoder_outputs=EffNetTrmEncoderOutput(
                    last_hidden_state=item["ours"][0][None], attention_mask=item["ours"][1][None]
                ),
                decoder_input_ids=ids,
            ).logits[0]
        result["logits"] = max(result["logits"], float((our_logits - theirs_outputs[index]["logits"]).abs().max()))
        result["greedy"] += ours["greedy"][index] == greedy
        result["beam"] += ours["beam"][index] == beam
        result["beam_transformers_rule"] += ours["beam_transformers_rule"][index] == beam
        result.setdefault("lengths", []).append(len(beam))
        result.setdefault("captions", set()).add(beam)
    return result


def clip_inputs(authors, captioner, clips) -> list[dict]:
    inputs = []
    with torch.no_grad():
        for _, waveform in clips:
            audio = torch.from_numpy(waveform)[None]
            encoded = authors.model.model.encoder({"wav": audio, "wav_len": [audio.shape[1]], "specaug": False})
            ours = captioner.model.encode(audio)
            inputs.append(
                {"encoded": encoded, "frames": True, "ours": (ours.frame_embeddings[0], ours.attention_mask[0])}
            )
    return inputs


def memory_inputs(memories) -> list[dict]:
    inputs = []
    for memory, valid in memories:
        mask = torch.arange(memory.shape[0]) < valid
        inputs.append(
            {
                "encoded": {
                    "attn_emb": memory[None],
                    "attn_emb_len": torch.tensor([valid]),
                    "fc_emb": memory[:valid].mean(0, keepdim=True),
                },
                "ours": (memory, mask),
            }
        )
    return inputs


def with_table(captioner: Captioner, table: torch.Tensor) -> Captioner:
    """The converted model with another positional table (for comparison)."""
    import copy

    model = copy.deepcopy(captioner.model)
    with torch.no_grad():
        model.decoder.position_table.copy_(table)
    return Captioner(model, captioner.tokenizer)


def sinusoidal_table() -> torch.Tensor:
    """What the converter used to assume the checkpoints hold."""
    return sinusoidal_position_embedding(torch.arange(100), 256)


def another_xavier_draw(seed: int) -> torch.Tensor:
    """A table as their code draws one at every load of a training checkpoint."""
    table = torch.empty(100, 1, 256)
    nn.init.xavier_uniform_(table, generator=torch.Generator().manual_seed(seed))
    return table[:, 0]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--authors-repo", type=Path, required=True, help="a checkout of wsntxxn/AudioCaption")
    parser.add_argument("--clips", type=int, default=40, help="real recordings to caption")
    parser.add_argument("--seconds", type=float, default=10.0, help="longest clip, seconds")
    parser.add_argument("--memories", type=int, default=300, help="random encoder outputs to caption")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (both decoders work on a few rows at a time: more threads mostly wait)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    started = time.time()

    hf_wrapper = import_authors_code(args.authors_repo)
    clips = real_clips(args.clips, args.seconds)
    calibration = torch.stack([torch.from_numpy(np.resize(w, 5 * SR)) for _, w in clips[:16]])
    authors = build_authors_model(hf_wrapper, args.seed, calibration)
    vocab = {"<pad>": 0, "<start>": 1, "<end>": 2, "<unk>": 3} | {f"w{i}": i for i in range(4, 4981)}

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        release, training = tmp / "release", tmp / "training.pth"
        release.mkdir()
        torch.save(authors.state_dict(), release / "pytorch_model.bin")
        authors.config.to_json_file(release / "config.json")
        torch.save({"model": training_state(authors), "tokenizer": {"word2idx": vocab}, "epoch": 25}, training)
        variants = [
            ("release (noise table stored)", release, authors),
            (
                "training checkpoint (zeros stored)",
                training,
                load_training_state(hf_wrapper, torch.load(training)["model"], args.seed + 1),
            ),
        ]
        memories = random_memories(args.memories, torch.Generator().manual_seed(args.seed), scale=0.0)
        for name, source, theirs in variants:
            report = convert(str(source), str(tmp / f"{source.stem}-out"), tokenizer_source=str(training))
            print(f"\n{name}: {report.summary()}", file=sys.stderr)
            captioner = Captioner.from_pretrained(str(tmp / f"{source.stem}-out"))
            real = clip_inputs(theirs, captioner, clips)
            if not memories[0][0].any():  # the random outputs take the real frames' scale
                scale = float(torch.cat([item["ours"][0] for item in real]).std())
                memories = random_memories(args.memories, torch.Generator().manual_seed(args.seed), scale)
            candidates = [(name, captioner)]
            if source == release:
                candidates.append(
                    (
                        "release, sinusoidal table instead (the converter before)",
                        with_table(captioner, sinusoidal_table()),
                    )
                )
            else:  # how much their own loads differ: another noise draw in place of the zeros
                candidates.append(
                    (
                        "training checkpoint, another Xavier draw instead of zeros",
                        with_table(captioner, another_xavier_draw(args.seed + 2)),
                    )
                )
            for inputs_name, inputs in (("real clips", real), ("random encoder outputs", memory_inputs(memories))):
                theirs_outputs = authors_outputs(theirs, inputs)
                for label, ours in candidates:
                    rows.append((label, inputs_name, compare(theirs_outputs, ours, inputs)))
    print_table(rows)
    print(
        f"\nwall time {time.time() - started:.0f} s ({args.threads} thread(s)); {len(clips)} clips of up to "
        f"{args.seconds:g} s from {len({c[0].split('/')[0] for c in clips})} packages; torch {torch.__version__}"
    )
    return 0


def print_table(rows) -> None:
    print(
        "| model | inputs | n | frames: max rel. diff | logits: max abs. diff | greedy identical "
        "| beam 3 identical | beam 3, transformers' rule, identical | distinct beam captions | mean words |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for label, inputs, r in rows:
        frames = f"{r['frames']:.1e}" if inputs == "real clips" else "(same input)"
        print(
            f"| {label} | {inputs} | {r['n']} | {frames} | {r['logits']:.1e} | {r['greedy']}/{r['n']} | "
            f"{r['beam']}/{r['n']} | {r['beam_transformers_rule']}/{r['n']} | {len(r['captions'])} | "
            f"{np.mean(r['lengths']):.1f} |"
        )


if __name__ == "__main__":
    sys.exit(main())
