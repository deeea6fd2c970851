"""The student's word-level vocabulary, built with the `tokenizers` library.

Captions are lower-cased and stripped of punctuation, split on white space and mapped to words;
`<pad>`=0, `<bos>`=1, `<eos>`=2, `<unk>`=3 (the reference implementation's ids, with its
`<start>`/`<end>` named as transformers expects). Saved as a `PreTrainedTokenizerFast`, so
`AutoTokenizer.from_pretrained(model_dir)` loads it next to the model.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

import torch
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK)
#: The reference implementation truncates captions to 20 words.
DEFAULT_MAX_WORDS = 20

# Everything but letters, digits, white space and in-word apostrophes is punctuation.
_PUNCTUATION = r"[^\w\s']|_|'(?!\w)|(?<!\w)'"
_PUNCTUATION_RE = re.compile(_PUNCTUATION)


def normalize_caption(text: str) -> str:
    """Lower-case, strip punctuation, collapse white space: the form the vocabulary is built on."""
    return " ".join(_PUNCTUATION_RE.sub(" ", text.lower()).split())


def _normalizer() -> normalizers.Normalizer:
    # the same rule as normalize_caption, inside the tokenizer so that saved tokenizers apply it too
    return normalizers.Sequence(
        [normalizers.NFKC(), normalizers.Lowercase(), normalizers.Replace(Regex(_PUNCTUATION), " ")]
    )


def count_words(captions: Iterable[str]) -> Counter:
    return Counter(word for caption in captions for word in normalize_caption(caption).split())


def build_word_tokenizer(
    captions: Iterable[str], min_count: int = 1, max_words: int = DEFAULT_MAX_WORDS
) -> PreTrainedTokenizerFast:
    """A word tokenizer holding every word seen at least `min_count` times in `captions`.

    Words are ordered by decreasing count, then alphabetically, so the same captions always give the
    same ids. Encoding adds `<bos>` ... `<eos>`; unknown words become `<unk>`.
    """
    counts = count_words(captions)
    if not counts:
        raise ValueError("no words found in the captions: cannot build a vocabulary")
    words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    vocab = {token: index for index, token in enumerate(SPECIAL_TOKENS)}
    for word in words:
        vocab.setdefault(word, len(vocab))
    return tokenizer_from_vocab(vocab, max_words)


def tokenizer_from_vocab(vocab: dict[str, int], max_words: int = DEFAULT_MAX_WORDS) -> PreTrainedTokenizerFast:
    """The word tokenizer for an existing word -> id table (e.g. a converted reference vocabulary),
    which must give `<pad>`, `<bos>`, `<eos>`, `<unk>` the ids 0-3."""
    for index, token in enumerate(SPECIAL_TOKENS):
        if vocab.get(token) != index:
            raise ValueError(f"the vocabulary must map {token} to {index}, not {vocab.get(token)}")
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    tokenizer.normalizer = _normalizer()
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A {EOS}", special_tokens=[(BOS, vocab[BOS]), (EOS, vocab[EOS])]
    )
    # joins words with single spaces (no word starts with the "##" continuation prefix)
    tokenizer.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token=PAD,
        bos_token=BOS,
        eos_token=EOS,
        unk_token=UNK,
        model_max_length=max_words + 2,
        padding_side="right",
    )


def caption_labels(
    tokenizer: PreTrainedTokenizerFast, captions: list[str], max_words: int = DEFAULT_MAX_WORDS
) -> torch.Tensor:
    """Training targets `w1 ... wn <eos>` (at most `max_words` words), right-padded with -100.

    The decoder input is the same sequence shifted right behind `<bos>`
    (`EffNetTrmForAudioCaptioning.shift_labels_right`).
    """
    encoded = tokenizer(captions, add_special_tokens=False, truncation=False)["input_ids"]
    rows = [ids[:max_words] + [tokenizer.eos_token_id] for ids in encoded]
    labels = torch.full((len(rows), max(len(r) for r in rows)), -100, dtype=torch.long)
    for i, row in enumerate(rows):
        labels[i, : len(row)] = torch.tensor(row)
    return labels
