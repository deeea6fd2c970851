"""A short soak of the Space: rounds of concurrent users against a real `app.py` process, its memory
flat after the first round, every answer right, and nothing left in its cache folder once it is
stopped as `kill` stops it. (`benchmarks/space_load.py --rounds 22` is the long version.)"""

from __future__ import annotations

from benchmarks.space_load import soak, write_clips
from effnet_trm.hub import init_model

#: Loose on purpose (4 short rounds on a shared machine); the benchmark holds 22 rounds to 5 %.
GROWTH_LIMIT = 0.10


def test_space_memory_stays_flat_and_nothing_is_left_behind(tmp_path):
    model = tmp_path / "model"
    init_model(model, seed=0, encoder_name="tinynet_e", encoder_hidden_size=1280, d_model=32, decoder_ffn_dim=64)
    requests = write_clips(tmp_path / "clips", long_seconds=15.0)

    report = soak(str(model), requests, clients=2, per_client=4, rounds=4, warmup=1, work=tmp_path)

    print(report.summary())
    assert report.wrong_answers == 0 and report.lost == 0 and report.tracebacks == 0
    assert report.growth_after_warmup < GROWTH_LIMIT, report.rss_mb
    assert report.temp_files_during > 0  # uploads and images were cached while it ran ...
    assert report.temp_files_left == 0  # ... and removed when it stopped
