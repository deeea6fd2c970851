"""The Gradio page. Every capability is also an API endpoint (`/caption`, `/caption_files`) for
`gradio_client`."""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from .service import MAX_DURATION_SECONDS, MAX_UPLOAD_MB, CaptionService, UserInputError  # noqa: E402

DESCRIPTION = """# EffNet-Trm audio captioning
An 11.5 M-parameter captioner (EfficientNet-B2 + 2-layer Transformer) distilled from HTSAT-BART
(Xu et al., *Efficient Audio Captioning with Encoder-Level Knowledge Distillation*, Interspeech 2024).
Upload or record a sound; recordings over 12 s are captioned per 10 s segment.
A clip with no audible sound is captioned "silence". **Confidence** is a guide, not a guarantee: the
search's mean log-probability per word (high, medium or low; on held-out demo clips, low went with
wrong captions far more often) and, where YAMNet's AudioSet weights are present, its top classes and
whether they name a sound the caption names (a second opinion to read, not part of the level).
"""


#: (how often, after how long) the Space deletes its cached uploads and outputs, in seconds.
CACHED_FILES_LIFETIME = (600, 3600)


def build_ui(service: CaptionService, examples: list[list] | None = None) -> gr.Blocks:
    def caption(path, num_beams, decoding, num_candidates):
        try:
            output = service.caption(path, num_beams, decoding, num_candidates)
        except UserInputError as error:
            raise gr.Error(str(error), print_exception=False) from None
        best = output.captions[0]
        others = "\n".join(f"{i + 2}. {c}" for i, c in enumerate(output.captions[1:]))
        timing = f"{output.seconds * 1000:.0f} ms for {output.duration:.1f} s of audio"
        return best, output.confidence, others, output.segments, output.spectrogram, timing

    def caption_files(paths, num_beams):
        try:
            return service.caption_many(paths, num_beams)
        except UserInputError as error:
            raise gr.Error(str(error), print_exception=False) from None

    # uploads and outputs (spectrogram images) are cached as files: deleted an hour after they were
    # made, and all of them when the server stops
    with gr.Blocks(
        title="EffNet-Trm audio captioning", analytics_enabled=False, delete_cache=CACHED_FILES_LIFETIME
    ) as page:
        gr.Markdown(DESCRIPTION)
        if service.problem:
            gr.Markdown(f"**No model loaded.** {service.problem}", elem_id="model-problem")
        with gr.Tab("One recording"):
            with gr.Row():
                with gr.Column():
                    audio = gr.Audio(
                        sources=["upload", "microphone"], type="filepath", label="Audio", elem_id="audio-input"
                    )
                    with gr.Row():
                        decoding = gr.Radio(
                            ["beam search", "greedy", "sampling"], value="beam search", label="Decoding"
                        )
                        num_beams = gr.Slider(1, 8, value=3, step=1, label="Beam size")
                        num_candidates = gr.Slider(1, 5, value=1, step=1, label="Candidates")
                    button = gr.Button("Caption", variant="primary", elem_id="caption-button")
                with gr.Column():
                    best = gr.Textbox(label="Caption", elem_id="caption-output")
                    confidence = gr.Textbox(label="Confidence (a guide, not a guarantee)", elem_id="confidence-output")
                    others = gr.Textbox(label="Other candidates", lines=2)
                    timing = gr.Textbox(label="Inference time", elem_id="timing-output")
            segments = gr.Dataframe(headers=["start (s)", "end (s)", "caption", "confidence"], label="Segments")
            spectrogram = gr.Image(label="What the model sees", type="numpy")
            if examples:
                gr.Examples(examples, inputs=[audio], label="Clips from the demo corpus (test split)")
            button.click(
                caption,
                [audio, num_beams, decoding, num_candidates],
                [best, confidence, others, segments, spectrogram, timing],
                api_name="caption",
                concurrency_limit=1,
            )
        with gr.Tab("Several files"):
            files = gr.File(file_count="multiple", file_types=["audio"], label="Audio files")
            many_beams = gr.Slider(1, 8, value=3, step=1, label="Beam size")
            many_button = gr.Button("Caption all", variant="primary")
            table = gr.Dataframe(headers=["file", "start (s)", "end (s)", "caption", "confidence"], label="Captions")
            many_button.click(
                caption_files, [files, many_beams], [table], api_name="caption_files", concurrency_limit=1
            )
        gr.Markdown(
            f"Limits: {MAX_UPLOAD_MB} MB and {MAX_DURATION_SECONDS / 60:.0f} minutes per file. "
            "Requests are queued and served one at a time."
        )
    page.queue(default_concurrency_limit=1, max_size=32)
    return page


def launch(page: gr.Blocks, host: str = "127.0.0.1", port: int | None = None, block: bool = True):
    return page.launch(
        server_name=host,
        server_port=port,
        max_file_size=f"{MAX_UPLOAD_MB}mb",
        show_error=True,
        prevent_thread_lock=not block,
        quiet=True,
        footer_links=[],
    )
