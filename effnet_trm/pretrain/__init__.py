"""Encoders that start out knowing AudioSet: pretraining by distillation from YAMNet, and loading
pretrained encoder weights into the student.

- `targets`: YAMNet's patch scores and embeddings for a set of clips, computed once and cached;
- `encoders`: the two encoders it trains (the student's EfficientNet-B2, the demo teacher's HTSAT);
- `trainer`: encoder-level KD from YAMNet (BCE on its 521 soft scores + embedding cosine), mAP on
  held-out clips, the result saved as `encoder.safetensors` + `pretraining.json`;
- `init`: `model.encoder_init_from` of the distillation config: AudioSet EfficientNet-B2 weights in
  `efficientnet_pytorch` layout (the authors' code), the encoder of a model folder of this package,
  or a pretrained encoder written by `trainer`.
"""
