#!/usr/bin/env python
"""What a training step pays to decode one clip, by the rate it is stored at: why
`datasets_scripts/store_at_rate.py` stores a corpus at the student's 16 kHz.

    python benchmarks/decode_cost.py --repeats 50

A 10 s mono FLAC clip (a tone plus noise) at each rate, decoded to 16 kHz by `decode_audio` (soundfile,
then soxr when the rates differ), one thread; prints the median ms per clip and the stored size.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", type=int, nargs="+", default=[48000, 44100, 32000, 16000])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    import numpy as np

    from effnet_trm.data.io import decode_audio, encode_flac

    rng = np.random.default_rng(0)
    print(
        f"| stored at | FLAC size (kB) | decode to 16 kHz, ms per {args.seconds:g} s clip (median of {args.repeats}) |"
    )
    print("|---|---|---|")
    for rate in args.rates:
        t = np.arange(int(args.seconds * rate)) / rate
        waveform = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
        audio = {"bytes": encode_flac(waveform, rate), "path": None}
        decode_audio(audio, 16000)  # warm-up
        times = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            decode_audio(audio, 16000)
            times.append(time.perf_counter() - started)
        print(f"| {rate / 1000:g} kHz | {len(audio['bytes']) / 1024:.0f} | {statistics.median(times) * 1000:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
