"""What the repeat block does to trained students' captions: each model captions a corpus' validation
and test splits twice, with `block_immediate_repeats` off (as folders saved before it decode) and on
(a new model's default), and the table gives CIDEr-D, distinct captions and the captions that say a
word twice in a row ("a car car honks").

    HF_HUB_OFFLINE=1 python benchmarks/repeat_block.py
    HF_HUB_OFFLINE=1 python benchmarks/repeat_block.py --demo outputs/demo/student data/demo_quick --folds ''

Models: `make demo`'s student on the demo corpus (`--demo MODEL CORPUS`), and every finished student of
`benchmarks/unseen_sources.py` (`--folds`: its output folder; each fold's student on its own corpus, the
held-out source as test). The block is chosen on the validation rows; the test rows only report.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SPLITS = ("validation", "test")
SETTINGS = {"off": False, "on": True}


def score(captions: list[str], references: list[list[str]]) -> dict:
    from effnet_trm.evaluation.metrics import says_a_word_twice, scores_with_distinct

    result = scores_with_distinct(captions, references, ["cider_d"])
    return {**result, "stuttering_captions": sum(map(says_a_word_twice, captions))}


def measure(model_dir: Path, corpus: Path) -> dict[str, dict[str, dict]]:
    """{split: {setting: scores}} for one model on one corpus."""
    from datasets import load_from_disk

    from effnet_trm.evaluation.runner import caption_split
    from effnet_trm.inference import Captioner

    captioner = Captioner.from_pretrained(str(model_dir))
    splits = load_from_disk(str(corpus))
    results = {}
    for split in SPLITS:
        references = [list(r) for r in splits[split]["captions"]]
        results[split] = {
            name: score(caption_split(captioner, splits[split], progress=False, block_immediate_repeats=on), references)
            for name, on in SETTINGS.items()
        }
    return results


def fold_models(root: Path) -> list[tuple[str, Path, Path]]:
    """(label, model folder, corpus) of every finished student of the held-out-source benchmark."""
    found = []
    for fold in sorted(p for p in root.glob("*_seed*") if (p / "corpus" / "dataset_dict.json").exists()):
        for model_dir in sorted(fold.glob("*/model")):
            if (model_dir / "config.json").exists() and (model_dir.parent / "test_scores.json").exists():
                found.append((f"{fold.name}: {model_dir.parent.name}", model_dir, fold / "corpus"))
    return found


def row(label: str, split: str, result: dict[str, dict], counts: str = "d") -> str:
    """A table row: each score with the block off, then on (`counts`: how the counts are written)."""
    off, on = result["off"], result["on"]
    cells = [f"{off['cider_d']:.3f}", f"{on['cider_d']:.3f}"] + [
        format(setting[key], counts) for key in ("distinct_captions", "stuttering_captions") for setting in (off, on)
    ]
    return f"| {label} | {split} | " + " | ".join(cells) + " |"


def mean_result(results: list[dict[str, dict]]) -> dict[str, dict]:
    """The per-setting means of several models' results on one split."""
    return {
        name: {key: statistics.mean(r[name][key] for r in results) for key in results[0][name]} for name in SETTINGS
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--demo", nargs=2, metavar=("MODEL", "CORPUS"), default=["outputs/demo/student", "data/demo_quick"]
    )
    parser.add_argument("--folds", default="outputs/unseen_sources", help="the benchmark's output folder ('': none)")
    args = parser.parse_args(argv)
    demo = [("make demo's student", Path(args.demo[0]), Path(args.demo[1]))]
    demo = demo if args.demo and Path(args.demo[0], "config.json").exists() else []
    folds = fold_models(Path(args.folds)) if args.folds else []
    if not demo and not folds:
        parser.error("no trained model found: run `make demo` or benchmarks/unseen_sources.py first")
    print("| model | split | CIDEr-D off | CIDEr-D on | distinct off | distinct on | word twice in a row off | on |")
    print("|---|---|---|---|---|---|---|---|")
    per_split: dict[str, list[dict]] = {split: [] for split in SPLITS}
    for label, model_dir, corpus in demo + folds:
        results = measure(model_dir, corpus)
        for split in SPLITS:
            print(row(label, split, results[split]), flush=True)
            if (label, model_dir, corpus) in folds:
                per_split[split].append(results[split])
    for split, results in per_split.items():
        if results:
            print(row(f"mean of {len(results)} fold students", split, mean_result(results), counts=".1f"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
