"""Data for training and evaluation: the embedded demo corpus, AudioCaps/Clotho, audio-only pools.

Every source produces the same schema (`audio` as `Audio(decode=False)` bytes, `captions`,
`audio_id`, `classes`, `source`, `license`); `decode_audio` turns a row's audio into a waveform.
"""

from .io import decode_audio, decode_split  # noqa: F401
