"""Shared options of the real-dataset builders: streaming a named Hub dataset into the schema."""

from __future__ import annotations

import argparse

from effnet_trm.data.real_datasets import stream_hub_dataset

HUB_SPLITS = {"train": "train", "validation": "validation", "test": "test"}


def add_hub_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Hub (streaming)")
    group.add_argument("--hub", help="a Hub dataset id to stream instead of a local copy")
    group.add_argument("--hub-config", default=None)
    group.add_argument("--audio-column", default="audio")
    group.add_argument("--caption-columns", nargs="+", default=["caption"])
    group.add_argument("--hub-id-column", default=None)
    group.add_argument(
        "--hub-splits",
        nargs="+",
        default=["train=train", "validation=validation", "test=test"],
        help="ours=theirs pairs",
    )


def save_hub_splits(args: argparse.Namespace) -> int:
    """Stream each split and save the clips grouped per audio_id (captions merged)."""
    from collections import OrderedDict

    from datasets import DatasetDict

    from effnet_trm.data.io import rows_to_dataset, save_dataset

    splits = {}
    for pair in args.hub_splits:
        ours, theirs = pair.split("=")
        grouped: OrderedDict[str, dict] = OrderedDict()
        for row in stream_hub_dataset(
            args.hub, theirs, args.audio_column, tuple(args.caption_columns), args.hub_id_column, args.hub_config
        ):
            if row["audio_id"] in grouped:
                grouped[row["audio_id"]]["captions"].extend(row["captions"])
            else:
                grouped[row["audio_id"]] = row
        splits[ours] = rows_to_dataset(list(grouped.values()))
    save_dataset(DatasetDict(splits), args.out)
    print({split: len(rows) for split, rows in splits.items()})
    return 0
