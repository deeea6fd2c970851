"""Configuration of EffNet-Trm, the efficient audio captioner of Xu et al. (Interspeech 2024)."""

from __future__ import annotations

from transformers import PretrainedConfig

#: Where transformers' auto classes find the code of a saved model folder (written into config.json).
AUTO_MAP = {
    "AutoConfig": "configuration_effnet_trm.EffNetTrmConfig",
    "AutoModel": "modeling_effnet_trm.EffNetTrmForAudioCaptioning",
    "AutoModelForSeq2SeqLM": "modeling_effnet_trm.EffNetTrmForAudioCaptioning",
    "AutoFeatureExtractor": "feature_extraction_effnet_trm.EffNetTrmFeatureExtractor",
}
#: The pipeline a model folder ships: `transformers.pipeline(model=folder, trust_remote_code=True)`.
CUSTOM_PIPELINES = {
    "audio-captioning": {
        "impl": "pipeline_effnet_trm.EffNetTrmCaptioningPipeline",
        "pt": ["AutoModel"],
        "type": "audio",
    },
}


#: Sources of the decoder's word-position table (see `EffNetTrmConfig.position_embedding`).
POSITION_EMBEDDINGS = ("sinusoidal", "stored")


class EffNetTrmConfig(PretrainedConfig):
    r"""Configuration of [`EffNetTrmForAudioCaptioning`]: a log-mel front end, an EfficientNet-B2
    encoder and a small Transformer decoder over a word vocabulary.

    The defaults are the paper's student (the released `wsntxxn/effb2-trm-*-captioning` models): about
    11.5 M parameters with a 4,981-word vocabulary.

    Args:
        vocab_size (`int`, *optional*, defaults to 4981):
            Number of words in the vocabulary, special tokens included (AudioCaps: 4981, Clotho: 4368).
        sampling_rate (`int`, *optional*, defaults to 16000):
            Sampling rate (Hz) of the waveform the model takes. The feature extractor refuses others.
        n_fft (`int`, *optional*, defaults to 512):
            FFT size of the STFT (32 ms at 16 kHz). The Hann window has the same length.
        hop_length (`int`, *optional*, defaults to 160):
            STFT hop in samples (10 ms at 16 kHz).
        n_mels (`int`, *optional*, defaults to 64):
            Number of mel bins. The filterbank is HTK-scaled and not area-normalised (torchaudio's
            `MelSpectrogram` defaults, which the reference implementation uses).
        f_min (`float`, *optional*, defaults to 0.0):
            Lowest mel filter edge in Hz.
        f_max (`float`, *optional*):
            Highest mel filter edge in Hz; `None` means the Nyquist frequency (8 kHz at 16 kHz).
        top_db (`float`, *optional*, defaults to 120.0):
            The log-mel spectrogram (10 log10 of power) is floored at its per-clip maximum minus this.
        encoder_name (`str`, *optional*, defaults to `"efficientnet_b2"`):
            timm architecture of the convolutional encoder, built with one input channel and without
            downloading weights.
        encoder_hidden_size (`int`, *optional*, defaults to 1408):
            Channels of the encoder's last feature map (1408 for EfficientNet-B2).
        encoder_drop_path_rate (`float`, *optional*, defaults to 0.2):
            Stochastic depth ("drop connect") rate of the encoder blocks during training.
        encoder_padding (`str`, *optional*, defaults to `""`):
            Convolution padding of the timm encoder. `""` is timm's symmetric padding (the fastest);
            `"same"` is TensorFlow-style dynamic "same" padding. Checkpoints converted from the
            reference implementation (`efficientnet_pytorch`, static "same" padding computed for a
            260 x 260 image) use `"static_same_260"`.
        encoder_batch_norm_eps (`float`, *optional*, defaults to 1e-5):
            Epsilon of the encoder's batch norms (`efficientnet_pytorch` uses 1e-3).
        encoder_time_stride (`int`, *optional*, defaults to 32):
            How many spectrogram frames one encoder frame covers (the backbone's total stride);
            used to compute how many encoder frames are valid for a clip of a given length.
        encoder_projection_dim (`int`, *optional*):
            When set, a linear layer maps the encoder frames to this size and the decoder reads the
            projected frames: the MSE variant of encoder-level distillation (1408 -> 768, the paper's
            12 M model). `None` (the default) keeps the 1408-d frames (the 11 M model).
        d_model (`int`, *optional*, defaults to 256):
            Width of the decoder (word embeddings, attention, residual stream).
        decoder_layers (`int`, *optional*, defaults to 2):
            Number of post-norm Transformer decoder layers.
        decoder_attention_heads (`int`, *optional*, defaults to 4):
            Attention heads in each decoder attention block.
        decoder_ffn_dim (`int`, *optional*, defaults to 1024):
            Hidden size of each decoder feed-forward block (ReLU).
        dropout (`float`, *optional*, defaults to 0.2):
            Dropout on embeddings, attention weights, residual branches and the memory projection.
        max_position_embeddings (`int`, *optional*, defaults to 100):
            Length of the sinusoidal word-position table: the longest caption, in words, the decoder
            can read.
        position_embedding (`str`, *optional*, defaults to `"sinusoidal"`):
            Where the decoder's word-position table comes from. `"sinusoidal"` computes the fixed sin/cos
            table (nothing is stored; models trained by this package). `"stored"` reads a
            `(max_position_embeddings, d_model)` table saved with the weights (`decoder.position_table`,
            not trained): checkpoints converted from the reference implementation, whose initialisation
            overwrote its "sinusoidal" table with Xavier noise, carry that table as it is.
        tie_word_embeddings (`bool`, *optional*, defaults to `True`):
            Whether the output layer shares its weight with the word embedding.
        init_std (`float`, *optional*, defaults to 0.02):
            Kept for compatibility with transformers' utilities; the decoder is Xavier-initialised.
        pad_token_id, bos_token_id, eos_token_id (`int`):
            Ids of `<pad>` (0), `<bos>` (1) and `<eos>` (2). `decoder_start_token_id` is `<bos>`.
    """

    model_type = "effnet_trm"
    keys_to_ignore_at_inference = ["cache", "past_key_values"]  # the KV cache, by either name
    # the names transformers' generic utilities (e.g. cache set-up in `generate`) look for
    attribute_map = {
        "hidden_size": "d_model",
        "num_hidden_layers": "decoder_layers",
        "num_attention_heads": "decoder_attention_heads",
    }

    def __init__(
        self,
        vocab_size: int = 4981,
        sampling_rate: int = 16000,
        n_fft: int = 512,
        hop_length: int = 160,
        n_mels: int = 64,
        f_min: float = 0.0,
        f_max: float | None = None,
        top_db: float = 120.0,
        encoder_name: str = "efficientnet_b2",
        encoder_hidden_size: int = 1408,
        encoder_drop_path_rate: float = 0.2,
        encoder_padding: str = "",
        encoder_batch_norm_eps: float = 1e-5,
        encoder_time_stride: int = 32,
        encoder_projection_dim: int | None = None,
        d_model: int = 256,
        decoder_layers: int = 2,
        decoder_attention_heads: int = 4,
        decoder_ffn_dim: int = 1024,
        dropout: float = 0.2,
        max_position_embeddings: int = 100,
        position_embedding: str = "sinusoidal",
        tie_word_embeddings: bool = True,
        init_std: float = 0.02,
        pad_token_id: int = 0,
        bos_token_id: int = 1,
        eos_token_id: int = 2,
        decoder_start_token_id: int = 1,
        is_encoder_decoder: bool = True,
        **kwargs,
    ):
        if d_model % decoder_attention_heads:
            raise ValueError(
                f"d_model ({d_model}) must be divisible by decoder_attention_heads ({decoder_attention_heads})"
            )
        if encoder_padding not in ("", "same", "static_same_260"):
            raise ValueError(f"encoder_padding must be '', 'same' or 'static_same_260', got {encoder_padding!r}")
        if position_embedding not in POSITION_EMBEDDINGS:
            raise ValueError(f"position_embedding must be one of {POSITION_EMBEDDINGS}, got {position_embedding!r}")
        self.vocab_size = vocab_size
        self.sampling_rate = sampling_rate
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.n_mels = n_mels
        self.f_min = f_min
        self.f_max = f_max
        self.top_db = top_db
        self.encoder_name = encoder_name
        self.encoder_hidden_size = encoder_hidden_size
        self.encoder_drop_path_rate = encoder_drop_path_rate
        self.encoder_padding = encoder_padding
        self.encoder_batch_norm_eps = encoder_batch_norm_eps
        self.encoder_time_stride = encoder_time_stride
        self.encoder_projection_dim = encoder_projection_dim
        self.d_model = d_model
        self.decoder_layers = decoder_layers
        self.decoder_attention_heads = decoder_attention_heads
        self.decoder_ffn_dim = decoder_ffn_dim
        self.dropout = dropout
        self.max_position_embeddings = max_position_embeddings
        self.position_embedding = position_embedding
        self.init_std = init_std
        super().__init__(
            pad_token_id=pad_token_id,
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
            decoder_start_token_id=decoder_start_token_id,
            is_encoder_decoder=is_encoder_decoder,
            tie_word_embeddings=tie_word_embeddings,
            **kwargs,
        )

    @property
    def memory_dim(self) -> int:
        """Size of the encoder frames the decoder attends to."""
        return self.encoder_projection_dim or self.encoder_hidden_size
