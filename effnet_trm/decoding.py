"""Fast caption search for inference: one beam search shared by the PyTorch and ONNX Runtime paths.

transformers' `generate` serves every model and every decoding strategy; for a 2-layer decoder its
per-step bookkeeping (logits processors, cache objects, vectorised beam tensors) costs more than the
decoder itself. Here the search is a small numpy loop over an `IncrementalDecoder`, which owns the
model state (key/value caches) and turns the last token of every beam into next-token log-probs:

- `TorchIncrementalDecoder`: `EffNetTrmForAudioCaptioning`'s decoder stepped directly (fused q/k/v,
  a preallocated self-attention cache, cross-attention keys/values computed once per clip);
- the ONNX Runtime decoder in `effnet_trm.export.onnx`.

`beam_search` reproduces transformers' beam search (2 x beams candidates per step, finished hypotheses
scored by sum of log-probs / generated length ** length_penalty, the same stopping rules, the same
`no_repeat_ngram_size` and `block_immediate_repeats` blocks), and with one beam it is greedy search;
`tests/test_decoding.py` checks captions equal to `generate`'s, and scores equal to its `sequences_scores`. With
`beam_rule="reference"` it is instead the search of the authors' code (wsntxxn/AudioCaption,
`CaptionModel.beam_search`), which converted checkpoints use by default: see `reference_beam_search`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F

#: The paper's decoding, unless a caller asks otherwise: beam search with 3 beams, at most 20 words.
DEFAULT_SEARCH = {"num_beams": 3, "max_new_tokens": 20}
#: `generate` settings the fast search understands; anything else falls back to `generate`.
FAST_SEARCH_SETTINGS = frozenset(
    {
        "num_beams",
        "max_new_tokens",
        "min_new_tokens",
        "num_return_sequences",
        "length_penalty",
        "early_stopping",
        "suppress_tokens",
        "do_sample",
        "beam_rule",
        "no_repeat_ngram_size",
        "block_immediate_repeats",
    }
)
#: Beam-search rules: transformers' (`generate`'s) and the reference implementation's. A model folder
#: chooses one with a `beam_rule` entry in its generation config (converted checkpoints: "reference").
BEAM_RULES = ("transformers", "reference")


class IncrementalDecoder(Protocol):
    """Decoder state for `rows` = clips x beams hypotheses, advanced one token at a time."""

    def step(self, tokens: np.ndarray) -> np.ndarray:
        """`(rows,)` int64 last tokens -> `(rows, vocab)` float32 next-token log-probs."""

    def reorder(self, rows: np.ndarray) -> None:
        """Keep the state of `rows` (one source row per hypothesis), in that order."""


def beam_search(
    decoder: IncrementalDecoder,
    batch_size: int,
    num_beams: int,
    max_new_tokens: int,
    bos: int,
    eos: int,
    suppress: Sequence[int] = (),
    num_return_sequences: int = 1,
    min_new_tokens: int = 0,
    length_penalty: float = 1.0,
    early_stopping: bool = False,
    beam_rule: str = "transformers",
    no_repeat_ngram_size: int = 0,
    block_immediate_repeats: bool = False,
    scores: list[float] | None = None,
) -> list[list[int]]:
    """Beam search over `decoder` (whose rows are clip-major: clip 0's beams first).

    Returns `batch_size * num_return_sequences` token lists, each starting with `bos`, best first per clip.
    `beam_rule="reference"` runs `reference_beam_search` (which has no length penalty or early stopping).
    `no_repeat_ngram_size` > 0: no n-gram of that many tokens (`bos` included) occurs twice in a caption,
    transformers' `NoRepeatNGramLogitsProcessor` (see `banned_by_ngrams`). `block_immediate_repeats`: no
    token follows itself (the model's `NoImmediateRepeatLogitsProcessor`). When `scores` is a list, it is
    extended with each returned caption's score (its length-normalised log-probability, the hypothesis
    score the search ranks by; `generate`'s `sequences_scores`).
    """
    if num_return_sequences > num_beams:
        raise ValueError(f"num_return_sequences ({num_return_sequences}) cannot exceed num_beams ({num_beams})")
    if beam_rule not in BEAM_RULES:
        raise ValueError(f"beam_rule must be one of {BEAM_RULES}, got {beam_rule!r}")
    if beam_rule == "reference":
        return reference_beam_search(
            decoder,
            batch_size,
            num_beams,
            max_new_tokens,
            bos,
            eos,
            suppress,
            num_return_sequences,
            min_new_tokens,
            no_repeat_ngram_size,
            block_immediate_repeats,
            scores,
        )
    tokens = np.full((batch_size, num_beams, 1), bos, dtype=np.int64)
    running = np.full((batch_size, num_beams), -1e9, dtype=np.float32)
    running[:, 0] = 0.0  # all beams start identical: only the first may expand at step 1
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(batch_size)]
    done = np.zeros(batch_size, dtype=bool)
    suppress = list(suppress)
    for length in range(1, max_new_tokens + 1):
        log_probs = decoder.step(tokens[:, :, -1].reshape(-1))
        if suppress:
            log_probs[:, suppress] = -np.inf
        if length <= min_new_tokens:
            log_probs[:, eos] = -np.inf
        if no_repeat_ngram_size:
            log_probs[banned_by_ngrams(tokens.reshape(batch_size * num_beams, -1), no_repeat_ngram_size)] = -np.inf
        if block_immediate_repeats:
            log_probs[np.arange(batch_size * num_beams), tokens[:, :, -1].reshape(-1)] = -np.inf
        vocab = log_probs.shape[-1]
        candidates = (running.reshape(-1, 1) + log_probs).reshape(batch_size, num_beams * vocab)
        top, top_scores = _best(candidates, 2 * num_beams)
        last_step = length == max_new_tokens
        new_tokens = np.empty((batch_size, num_beams, length + 1), dtype=np.int64)
        new_scores = np.full((batch_size, num_beams), -1e9, dtype=np.float32)
        source = np.zeros((batch_size, num_beams), dtype=np.int64)
        for b in range(batch_size):
            kept = 0
            for rank, (flat, score) in enumerate(zip(top[b], top_scores[b])):
                beam, token = divmod(int(flat), vocab)
                # at the last step every candidate ends: only the top num_beams may become hypotheses
                if token == eos or last_step:
                    if rank < num_beams and not done[b]:
                        ids = tokens[b, beam].tolist() + [token]
                        _keep_best(finished[b], ids, float(score) / length**length_penalty, num_beams)
                    if token == eos:
                        continue
                if kept < num_beams:
                    new_tokens[b, kept, :length] = tokens[b, beam]
                    new_tokens[b, kept, length] = token
                    new_scores[b, kept] = score
                    source[b, kept] = beam
                    kept += 1
            if not done[b] and len(finished[b]) == num_beams:
                worst_finished = min(s for s, _ in finished[b])
                best_running = new_scores[b].max() / length**length_penalty
                done[b] = early_stopping or worst_finished >= best_running
        if last_step or done.all():
            break
        decoder.reorder((source + np.arange(batch_size)[:, None] * num_beams).reshape(-1))
        tokens, running = new_tokens, new_scores
    return _ranked(finished, num_return_sequences, scores)


def _ranked(finished: list, num_return_sequences: int, scores: list[float] | None) -> list[list[int]]:
    """Each clip's `num_return_sequences` best hypotheses, best first (sorted() keeps the recording order
    among equal scores); their scores go into `scores` when it is a list."""
    best = [
        item for hypotheses in finished for item in sorted(hypotheses, key=lambda item: -item[0])[:num_return_sequences]
    ]
    if scores is not None:
        scores.extend(score for score, _ in best)
    return [ids for _, ids in best]


def banned_by_ngrams(tokens: np.ndarray, ngram_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, token) indices of the next tokens that would repeat an n-gram of `tokens` `(rows, length)`:
    transformers' `NoRepeatNGramLogitsProcessor` (every window of `ngram_size` tokens whose first
    `ngram_size - 1` equal the last `ngram_size - 1` tokens bans its own last token; none before
    `ngram_size` tokens)."""
    length = tokens.shape[1]
    if length < ngram_size:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(tokens, ngram_size, axis=1)  # (rows, windows, n)
    prefix = tokens[:, length + 1 - ngram_size :]
    matches = (windows[:, :, :-1] == prefix[:, None, :]).all(axis=-1)
    rows, starts = np.nonzero(matches)
    return rows, windows[rows, starts, -1]


def reference_beam_search(
    decoder: IncrementalDecoder,
    batch_size: int,
    num_beams: int,
    max_new_tokens: int,
    bos: int,
    eos: int,
    suppress: Sequence[int] = (),
    num_return_sequences: int = 1,
    min_new_tokens: int = 0,
    no_repeat_ngram_size: int = 0,
    block_immediate_repeats: bool = False,
    scores: list[float] | None = None,
) -> list[list[int]]:
    """The beam search of the authors' code (`CaptionModel.beam_search` in wsntxxn/AudioCaption's
    `captioning/models/base.py` and `hf_wrapper.py`), rule for rule, so that converted checkpoints give
    their captions. Where it differs from transformers' (`beam_search`):

    - **slots**: each step keeps the `num_beams` best candidates, ended ones included (transformers takes
      2 x beams candidates and refills the beam with the best that did not end). An ended hypothesis is
      recorded and its running score lowered by 1000, so from the next step on only the open hypotheses'
      continuations are chosen, while some remain;
    - **score**: a recorded hypothesis scores sum of log-probs / (words + 1), `<eos>` counted;
    - **stop**: when *exactly* `num_beams` hypotheses have been recorded; if two end at the same step
      and the count jumps past `num_beams`, the search goes on to `max_new_tokens`, where every
      hypothesis still in the beam is recorded;
    - **scores per step**: log_softmax applied to the log-probs once more (their temperature step,
      `log_softmax(log_softmax(logit) / temp)`, at temp 1), and ties broken by `torch.topk`, as theirs.

    Their decoder also treats a generated `<pad>` as padding in its input: `search_memory` has the
    `TorchIncrementalDecoder` do the same (the ONNX decoder graph does not).
    Their search runs clip by clip; here the clips share the decoder calls and each stops on its own.
    `suppress`, `min_new_tokens`, `no_repeat_ngram_size` and `block_immediate_repeats` (not in theirs)
    mask tokens after the renormalisation. `scores` as in `beam_search` (here: sum of log-probs / (words + 1)).
    """
    running = torch.zeros(batch_size, num_beams)  # their `topk_logprob`, one row per clip
    tokens = np.full((batch_size, num_beams, 1), bos, dtype=np.int64)
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(batch_size)]
    done = np.zeros(batch_size, dtype=bool)
    suppress = list(suppress)
    for step in range(max_new_tokens):
        log_probs = torch.log_softmax(torch.from_numpy(decoder.step(tokens[:, :, -1].reshape(-1))), dim=-1)
        if suppress:
            log_probs[:, suppress] = -torch.inf
        if step < min_new_tokens:
            log_probs[:, eos] = -torch.inf
        if no_repeat_ngram_size:
            rows, banned = banned_by_ngrams(tokens.reshape(batch_size * num_beams, -1), no_repeat_ngram_size)
            log_probs[torch.from_numpy(rows), torch.from_numpy(banned)] = -torch.inf
        if block_immediate_repeats:
            log_probs[torch.arange(batch_size * num_beams), torch.from_numpy(tokens[:, :, -1].reshape(-1))] = -torch.inf
        vocab = log_probs.shape[-1]
        candidates = running.unsqueeze(-1) + log_probs.view(batch_size, num_beams, vocab)
        source = np.tile(np.arange(num_beams), (batch_size, 1))
        # clips that stopped keep their hypotheses and are fed `<eos>` until every clip has stopped
        new_tokens = np.concatenate([tokens, np.full((batch_size, num_beams, 1), eos, dtype=np.int64)], axis=2)
        for b in np.flatnonzero(~done):
            # at the first step every beam holds the same `<bos>`: choose among the first one's words
            top_scores, top = (candidates[b, 0] if step == 0 else candidates[b].reshape(-1)).topk(num_beams)
            beams, words = (top // vocab).numpy(), (top % vocab).numpy()
            new_tokens[b, :, :-1], new_tokens[b, :, -1] = tokens[b, beams], words
            ended = (words == eos) | (step == max_new_tokens - 1)
            for beam in np.flatnonzero(ended):
                finished[b].append((top_scores[beam].item() / (step + 1), new_tokens[b, beam].tolist()))
            top_scores[torch.from_numpy(ended)] -= 1000
            running[b], source[b] = top_scores, beams
            done[b] = len(finished[b]) == num_beams
        if done.all() or step == max_new_tokens - 1:
            break
        decoder.reorder((source + np.arange(batch_size)[:, None] * num_beams).reshape(-1))
        tokens = new_tokens
    # sorted() keeps the recording order among equal scores, as theirs does
    return _ranked(finished, num_return_sequences, scores)


def _best(candidates: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The `k` best columns of each row, best first (partition, then sort only those)."""
    top = np.argpartition(-candidates, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(candidates, top, axis=1), axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    return top, np.take_along_axis(candidates, top, axis=1)


def _keep_best(hypotheses: list, ids: list[int], score: float, keep: int) -> None:
    """Add a finished hypothesis; keep the `keep` best."""
    hypotheses.append((score, ids))
    if len(hypotheses) > keep:
        hypotheses.remove(min(hypotheses, key=lambda item: item[0]))


def padding_id(generation_config, config, num_beams: int) -> int:
    """What `generate` pads finished captions with: the pad id, or `<eos>` where it has none. Its beam
    search also takes `<eos>` for a pad id of 0 (`pad or eos`), so the same ids come out here."""
    pad = generation_config.pad_token_id
    if pad is None or (num_beams > 1 and pad == 0):
        return config.eos_token_id
    return pad


def pad_sequences(sequences: list[list[int]], pad: int) -> torch.Tensor:
    """Token lists -> a right-padded `(n, longest)` int64 tensor."""
    ids = np.full((len(sequences), max(len(s) for s in sequences)), pad, dtype=np.int64)
    for row, sequence in enumerate(sequences):
        ids[row, : len(sequence)] = sequence
    return torch.from_numpy(ids)


# --- PyTorch ---------------------------------------------------------------------------------------


def fused_qkv(attention) -> tuple[torch.Tensor, torch.Tensor]:
    """An attention's q, k and v projections as one `(3 * d_model, d_model)` weight and its bias."""
    return (
        torch.cat([attention.q_proj.weight, attention.k_proj.weight, attention.v_proj.weight]),
        torch.cat([attention.q_proj.bias, attention.k_proj.bias, attention.v_proj.bias]),
    )


def self_attention_qkv(layer):
    """A decoder layer's self-attention q, k and v projections as one call `(.., d_model) -> (.., 3 * d_model)`:
    the layer's `qkv_proj` where `effnet_trm.optimize` made one (possibly int8), else a linear over the
    three weights concatenated now."""
    if hasattr(layer.self_attn, "qkv_proj"):
        return layer.self_attn.qkv_proj
    weight, bias = fused_qkv(layer.self_attn)
    return lambda hidden: F.linear(hidden, weight, bias)


def split_heads(states: torch.Tensor, heads: int) -> torch.Tensor:
    """`(rows, length, d_model)` -> `(rows, heads, length, head_dim)`."""
    return states.view(states.shape[0], states.shape[1], heads, -1).transpose(1, 2)


def merge_heads(states: torch.Tensor) -> torch.Tensor:
    """`(rows, heads, length, head_dim)` -> `(rows, length, d_model)`."""
    return states.transpose(1, 2).reshape(states.shape[0], states.shape[2], -1)


def embed_step(decoder, ids: torch.Tensor, position_embedding: torch.Tensor) -> torch.Tensor:
    """The decoder input for the newest word: `(rows, 1)` ids -> `(rows, 1, d_model)`."""
    return decoder.embed_tokens(ids) * decoder.embed_scale + position_embedding


def finish_layer_step(
    layer, hidden, query, keys, values, cross_keys, cross_values, memory_mask, word_mask=None
) -> torch.Tensor:
    """`EffNetTrmDecoderLayer` for the newest position, once its query and the self-attention keys
    and values (past and newest) are known: attention, post-norm residuals, ReLU feed-forward.
    `word_mask` (`(rows, 1, 1, words)`, true = attend) leaves out words treated as padding."""
    heads = query.shape[1]
    # one query at the newest position: causality needs no mask
    attended = F.scaled_dot_product_attention(query, keys, values, attn_mask=word_mask)
    hidden = layer.self_attn_layer_norm(hidden + layer.self_attn.out_proj(merge_heads(attended)))
    query = split_heads(layer.encoder_attn.q_proj(hidden), heads)
    attended = F.scaled_dot_product_attention(query, cross_keys, cross_values, attn_mask=memory_mask)
    hidden = layer.encoder_attn_layer_norm(hidden + layer.encoder_attn.out_proj(merge_heads(attended)))
    return layer.final_layer_norm(hidden + layer.fc2(F.relu(layer.fc1(hidden))))


def cross_keys_values(model, memory: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Every layer's cross-attention keys and values `(clips, heads, frames, head_dim)` for the encoder
    output `memory` (computed once per clip, as the model's cache does)."""
    projected = model.decoder.memory_projection(memory)
    heads = model.config.decoder_attention_heads
    return [
        (
            split_heads(layer.encoder_attn.k_proj(projected), heads),
            split_heads(layer.encoder_attn.v_proj(projected), heads),
        )
        for layer in model.decoder.layers
    ]


class TorchIncrementalDecoder:
    """`EffNetTrmDecoder` + `lm_head` stepped one token at a time, for inference.

    The arithmetic is `EffNetTrmDecoderLayer`'s (tested equal to the model's logits), arranged for a
    few rows at a time, where Python and kernel-launch overhead dominate: q/k/v in one matmul,
    self-attention keys/values written into a preallocated buffer, cross-attention keys/values computed
    once per clip and shared by its beams (which never move between clips), and no attention mask at
    all when no frame is padding.

    `padding_token`: later words do not attend to a position holding it, as the reference decoder
    treats `<pad>` in its input as padding (`cap_padding_mask`), even a `<pad>` it generated itself.
    """

    def __init__(
        self,
        model,
        memory: torch.Tensor,
        memory_mask: torch.Tensor,
        num_beams: int,
        max_length: int,
        padding_token: int | None = None,
    ):
        if model.training:
            raise ValueError("TorchIncrementalDecoder is for inference: call model.eval() first")
        config = model.config
        if max_length > config.max_position_embeddings:
            raise ValueError(
                f"captions are limited to {config.max_position_embeddings} tokens "
                f"(config.max_position_embeddings); asked for {max_length}"
            )
        self.model = model
        self.heads = config.decoder_attention_heads
        self.rows = memory.shape[0] * num_beams
        positions = torch.arange(max_length, device=memory.device)
        self.position_table = model.decoder.position_embeddings(positions).to(memory.dtype)
        self.qkv = [self_attention_qkv(layer) for layer in model.decoder.layers]
        self.cross = [
            (keys.repeat_interleave(num_beams, dim=0), values.repeat_interleave(num_beams, dim=0))
            for keys, values in cross_keys_values(model, memory)
        ]
        self.memory_mask = (
            None
            if bool(memory_mask.all())
            else memory_mask.bool()[:, None, None, :].repeat_interleave(num_beams, dim=0)
        )
        shape = (len(self.qkv), self.rows, self.heads, max_length, config.d_model // self.heads)
        self.keys, self.values = memory.new_empty(shape), memory.new_empty(shape)
        self.padding_token = padding_token
        self.word_mask = torch.ones(self.rows, 1, 1, max_length, dtype=torch.bool, device=memory.device)
        self.length = 0

    @torch.inference_mode()
    def step(self, tokens: np.ndarray) -> np.ndarray:
        t = self.length
        ids = torch.from_numpy(np.ascontiguousarray(tokens, dtype=np.int64)).to(self.keys.device).view(-1, 1)
        hidden = embed_step(self.model.decoder, ids, self.position_table[t])
        word_mask = None
        if self.padding_token is not None:
            self.word_mask[:, 0, 0, t] = ids[:, 0] != self.padding_token
            word_mask = None if bool(self.word_mask[..., : t + 1].all()) else self.word_mask[..., : t + 1]
        for i, layer in enumerate(self.model.decoder.layers):
            query, key, value = (split_heads(part, self.heads) for part in self.qkv[i](hidden).chunk(3, dim=-1))
            self.keys[i, :, :, t : t + 1] = key
            self.values[i, :, :, t : t + 1] = value
            hidden = finish_layer_step(
                layer,
                hidden,
                query,
                self.keys[i, :, :, : t + 1],
                self.values[i, :, :, : t + 1],
                *self.cross[i],
                self.memory_mask,
                word_mask,
            )
        self.length = t + 1
        return torch.log_softmax(self.model.lm_head(hidden[:, 0]).float(), dim=-1).cpu().numpy()

    def reorder(self, rows: np.ndarray) -> None:
        index = torch.from_numpy(rows).to(self.keys.device)
        filled = slice(0, self.length)
        self.keys[:, :, :, filled] = self.keys[:, index, :, filled]
        self.values[:, :, :, filled] = self.values[:, index, :, filled]
        self.word_mask = self.word_mask[index]


def blocks_immediate_repeats(generation_config) -> bool:
    """Whether `generation_config` asks for `block_immediate_repeats` (one saved before it existed does not)."""
    return bool(getattr(generation_config, "block_immediate_repeats", False))


def fast_search_settings(generation_config, overrides: dict) -> dict | None:
    """The search settings for `fast_generate`, or None when a setting needs transformers' `generate`."""
    settings = {
        "num_beams": generation_config.num_beams or 1,
        "max_new_tokens": generation_config.max_new_tokens or 20,
        "min_new_tokens": generation_config.min_new_tokens or 0,
        "num_return_sequences": generation_config.num_return_sequences or 1,
        "length_penalty": generation_config.length_penalty if generation_config.length_penalty is not None else 1.0,
        "early_stopping": generation_config.early_stopping is True,
        "suppress_tokens": list(generation_config.suppress_tokens or []),
        "do_sample": bool(generation_config.do_sample),
        "beam_rule": getattr(generation_config, "beam_rule", None) or "transformers",
        "no_repeat_ngram_size": generation_config.no_repeat_ngram_size or 0,
        "block_immediate_repeats": blocks_immediate_repeats(generation_config),
    }
    if set(overrides) - FAST_SEARCH_SETTINGS:
        return None
    settings.update({k: v for k, v in overrides.items() if v is not None})
    settings["suppress_tokens"] = list(settings["suppress_tokens"])
    if settings["do_sample"] or settings["early_stopping"] not in (True, False):
        return None
    # processors the fast search does not implement, set in a saved generation config
    if (
        generation_config.repetition_penalty not in (None, 1.0)
        or generation_config.bad_words_ids
        or generation_config.forced_bos_token_id is not None
        or generation_config.forced_eos_token_id is not None
        or generation_config.num_beam_groups not in (None, 1)
    ):
        return None
    settings.pop("do_sample")
    return settings


#: Clips per encoder call at inference: on CPU a large batch of 10 s clips costs more per clip than
#: small groups (its activations no longer fit in cache); outputs do not depend on batch-mates.
ENCODER_CHUNK = 4


def encode_in_chunks(
    model, input_values: torch.Tensor, attention_mask: torch.Tensor | None, chunk: int = ENCODER_CHUNK
) -> tuple[torch.Tensor, torch.Tensor]:
    """The encoder's memory `(batch, frames, dim)` and frame mask, `chunk` clips at a time."""
    pieces = [
        model.encode(input_values[i : i + chunk], None if attention_mask is None else attention_mask[i : i + chunk])
        for i in range(0, input_values.shape[0], chunk)
    ]
    frames = max(piece.last_hidden_state.shape[1] for piece in pieces)
    memory = torch.cat([F.pad(p.last_hidden_state, (0, 0, 0, frames - p.last_hidden_state.shape[1])) for p in pieces])
    mask = torch.cat([F.pad(p.attention_mask, (0, frames - p.attention_mask.shape[1])) for p in pieces])
    return memory, mask


@torch.inference_mode()
def fast_generate(
    model,
    input_values: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    return_scores: bool = False,
    **settings,
):
    """`model.generate`'s token ids `(batch * num_return_sequences, length)`, by `beam_search` over a
    `TorchIncrementalDecoder`. `settings` are those of `fast_search_settings`. With `return_scores`:
    `(ids, scores)`, the scores `(batch * num_return_sequences,)` being each caption's length-normalised
    log-probability (`generate`'s `sequences_scores`)."""
    memory, memory_mask = encode_in_chunks(model, input_values, attention_mask)
    scores: list[float] = []
    sequences = search_memory(model, memory, memory_mask, scores=scores, **settings)
    ids = pad_sequences(sequences, padding_id(model.generation_config, model.config, settings["num_beams"])).to(
        input_values.device
    )
    return (ids, torch.tensor(scores)) if return_scores else ids


def search_memory(
    model,
    memory: torch.Tensor,
    memory_mask: torch.Tensor,
    num_beams: int,
    max_new_tokens: int,
    suppress_tokens=(),
    beam_rule: str = "transformers",
    **settings,
) -> list[list[int]]:
    """`beam_search` over a `TorchIncrementalDecoder` for an encoder output `(clips, frames, dim)`. Under
    the reference rule, generated `<pad>` words are also treated as padding, as the reference decoder does."""
    config = model.config
    padding_token = config.pad_token_id if beam_rule == "reference" else None
    decoder = TorchIncrementalDecoder(
        model, memory, memory_mask, num_beams, max_length=max_new_tokens + 1, padding_token=padding_token
    )
    return beam_search(
        decoder,
        memory.shape[0],
        num_beams,
        max_new_tokens,
        bos=config.decoder_start_token_id,
        eos=config.eos_token_id,
        suppress=suppress_tokens,
        beam_rule=beam_rule,
        **settings,
    )


@torch.inference_mode()
def reference_generate(
    model,
    input_ids: torch.Tensor,
    logits_processor=None,
    stopping_criteria=None,
    generation_config=None,
    synced_gpus: bool = False,
    **model_kwargs,
) -> torch.Tensor:
    """The reference beam rule inside transformers' `generate`, as a custom decoding method::

        model.generate(**inputs, custom_generate=reference_generate)

    `generate` prepares the encoder output (repeated once per beam), the length and the special ids;
    the search itself is `reference_beam_search` (by `search_memory`). Of the logits
    processors only `suppress_tokens`, `no_repeat_ngram_size` and `block_immediate_repeats` are honoured,
    as in the fast search."""
    config = model.config
    num_beams = generation_config.num_beams or 1
    expand = max(num_beams, generation_config.num_return_sequences or 1)
    encoded = model_kwargs["encoder_outputs"]
    memory, memory_mask = encoded.last_hidden_state[::expand], encoded.attention_mask[::expand]
    sequences = search_memory(
        model,
        memory,
        memory_mask,
        num_beams,
        generation_config.max_length - input_ids.shape[1],
        suppress_tokens=generation_config.suppress_tokens or (),
        beam_rule="reference",
        num_return_sequences=generation_config.num_return_sequences or 1,
        min_new_tokens=generation_config.min_new_tokens or 0,
        no_repeat_ngram_size=generation_config.no_repeat_ngram_size or 0,
        block_immediate_repeats=blocks_immediate_repeats(generation_config),
    )
    return pad_sequences(sequences, padding_id(generation_config, config, num_beams)).to(input_ids.device)
