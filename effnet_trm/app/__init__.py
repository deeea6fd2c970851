"""The Gradio Space: `service` (captioning, limits, spectrogram) and `ui` (the page and its API)."""
