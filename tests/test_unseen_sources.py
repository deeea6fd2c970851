"""Sounds no part of training heard: the leave-one-source-out corpus, the uncaptioned pool of the
packaged audio, and the teacher's pseudo-captions checked against YAMNet
(`benchmarks/unseen_sources.py` runs them at scale)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import load_from_disk

from effnet_trm.audio import load_audio
from effnet_trm.data.catalogue import CLASSES
from effnet_trm.data.demo_corpus import (
    CLIP_SECONDS,
    PRETRAINING_UNCAPTIONED_PER_PACKAGE,
    SAMPLE_RATE,
    build_recordings_pool,
    build_uncaptioned_pool,
    build_unseen_source_corpus,
    pretraining_recordings,
    save_recordings_pool,
    source_packages,
    split_recordings,
    unseen_source_splits,
)
from effnet_trm.data.io import rows_to_dataset
from effnet_trm.data.sources import UNCAPTIONED, Recording
from effnet_trm.teachers.pseudo_captions import (
    PseudoCaption,
    accepted_references,
    audioset_references,
    catalogue_class_for,
    pseudo_caption,
    split_pool,
    verdict_counts,
)
from tests.test_data_corpus import fake_recordings, wav_bytes

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def with_copies(recordings: list[Recording], package: str) -> list[Recording]:
    """`recordings` and two copies of each of `package`'s (fake_recordings holds 2 a class), so that
    its classes are dealt to 3 splits."""
    copies = [
        Recording(f"{r.source}.copy{i}", r.package, r.class_name, r.license, r.data)
        for r in recordings
        if r.package == package
        for i in range(2)
    ]
    return recordings + copies


def test_the_held_out_source_is_the_whole_test_split_and_nowhere_else(tmp_path):
    recordings = with_copies(fake_recordings(), "pkg-b")
    assert list(source_packages(recordings)) == ["pkg-a", "pkg-b"]
    corpus = build_unseen_source_corpus(
        tmp_path / "corpus", "pkg-a", preset="tiny", recordings=recordings, progress=False
    )
    for split in ("train", "audio_only", "validation"):
        assert all("pkg-a/" not in source for source in corpus[split]["source"]), split
        assert any("pkg-b/" in source for source in corpus[split]["source"]), split
    assert all(part.startswith("pkg-a/") for source in corpus["test"]["source"] for part in source.split("|"))
    assert "the test split is 'pkg-a' alone" in (tmp_path / "corpus" / "README.md").read_text()
    assert len(load_from_disk(str(tmp_path / "corpus"))["test"]) == len(corpus["test"])
    with pytest.raises(ValueError, match="no recordings of 'pkg-c'; the packages are pkg-a, pkg-b"):
        build_unseen_source_corpus(tmp_path / "other", "pkg-c", preset="tiny", recordings=recordings)


def test_uncaptioned_recordings_become_ten_second_clips_without_captions():
    recordings = [
        Recording("pkg/long.wav", "pkg", UNCAPTIONED, "CC0-1.0", wav_bytes(7.0, frequency=300, seed=1, noise=True)),
        Recording("pkg/short.wav", "pkg", UNCAPTIONED, "GPL-2", wav_bytes(0.5, frequency=500, seed=2)),
        Recording("pkg/click.wav", "pkg", UNCAPTIONED, "GPL-2", wav_bytes(0.05, frequency=500, seed=3)),
        Recording("pkg/broken.wav", "pkg", UNCAPTIONED, "GPL-2", b"not audio at all"),
    ]
    pool = build_uncaptioned_pool(recordings, progress=False)
    assert pool["source"] == ["pkg/long.wav", "pkg/short.wav"]  # the click and the broken file are left out
    assert pool["license"] == ["CC0-1.0", "GPL-2"] and pool["captions"] == [[], []]
    for row in pool:
        waveform = load_audio(io.BytesIO(row["audio"]["bytes"]), SAMPLE_RATE)
        assert waveform.size == int(CLIP_SECONDS * SAMPLE_RATE)
        assert np.abs(waveform).max() > 0.05
    # the long recording fills the clip, the short one is placed once on the noise floor
    long_clip, short_clip = (load_audio(io.BytesIO(row["audio"]["bytes"]), SAMPLE_RATE) for row in pool)
    assert np.mean(np.abs(long_clip) > 0.01) > 0.5 > np.mean(np.abs(short_clip) > 0.01)
    assert build_uncaptioned_pool(recordings, seed=0, progress=False)["audio"] == pool["audio"]  # reproducible


def test_the_recordings_pool_keeps_each_recording_as_it_is_up_to_ten_seconds():
    recordings = [
        Recording("pkg/long.wav", "pkg", UNCAPTIONED, "CC0-1.0", wav_bytes(12.0, frequency=300, seed=1, noise=True)),
        Recording("pkg/dog.wav", "pkg", "dog_bark", "GPL-2", wav_bytes(0.5, frequency=500, seed=2)),
        Recording("pkg/click.wav", "pkg", UNCAPTIONED, "GPL-2", wav_bytes(0.05, frequency=500, seed=3)),
        Recording("pkg/broken.wav", "pkg", UNCAPTIONED, "GPL-2", b"not audio at all"),
    ]
    pool = build_recordings_pool(recordings, progress=False)
    assert pool["source"] == ["pkg/long.wav", "pkg/dog.wav"]  # the click and the broken file are left out
    assert pool["classes"] == [[], ["dog_bark"]] and pool["captions"] == [[], []]
    long_clip, dog = (load_audio(io.BytesIO(row["audio"]["bytes"]), SAMPLE_RATE) for row in pool)
    assert long_clip.size == int(CLIP_SECONDS * SAMPLE_RATE)  # cut at 10 s
    assert abs(dog.size - SAMPLE_RATE // 2) <= 1  # not padded onto a canvas: every crop of it is the sound
    assert np.mean(np.abs(dog) > 0.01) > 0.5


def test_leaving_a_source_out_deals_only_the_other_packages_to_training_and_validation():
    recordings = fake_recordings()
    splits = unseen_source_splits(recordings, "pkg-b", seed=0)
    assert {r.package for r in splits["test"]} == {"pkg-b"}
    assert len(splits["test"]) == sum(r.package == "pkg-b" for r in recordings)
    dealt = [r for split in ("train", "audio_only", "validation") for r in splits[split]]
    assert {r.package for r in dealt} == {"pkg-a"} and len(dealt) == sum(r.package == "pkg-a" for r in recordings)
    assert unseen_source_splits(recordings, "pkg-b", seed=0) == splits  # seeded
    with pytest.raises(ValueError, match="no recordings of 'pkg-c'"):
        unseen_source_splits(recordings, "pkg-c")


def test_encoder_pretraining_hears_the_train_side_and_capped_uncaptioned_recordings():
    """The demo encoder and each fold's encoder hear `pretraining_recordings`: the fold's encoder
    nothing of the held-out package, and neither a validation or test recording."""
    captioned = with_copies(with_copies(fake_recordings(), "pkg-a"), "pkg-b")
    uncaptioned = [Recording(f"pkg-a/u{i}.wav", "pkg-a", UNCAPTIONED, "GPL-2", b"") for i in range(250)]
    uncaptioned += [Recording(f"pkg-b/u{i}.wav", "pkg-b", UNCAPTIONED, "GPL-2", b"") for i in range(3)]
    fold = pretraining_recordings(captioned, uncaptioned, seed=0, held_out="pkg-b")
    assert all(recording.package == "pkg-a" for recording in fold)
    validation = unseen_source_splits(captioned, "pkg-b", 0)["validation"]
    assert validation and not set(validation) & set(fold)
    assert sum(r.class_name == UNCAPTIONED for r in fold) == PRETRAINING_UNCAPTIONED_PER_PACKAGE < 250
    train_side = [r for r in fold if r.class_name != UNCAPTIONED]
    assert len(train_side) == sum(r.package == "pkg-a" for r in captioned) - len(validation)

    demo = pretraining_recordings(captioned, uncaptioned, seed=0)
    dealt = split_recordings(captioned, 0)
    assert {r.package for r in demo} == {"pkg-a", "pkg-b"}
    assert set(demo) & set(captioned) == set(dealt["train"] + dealt["audio_only"])
    assert not set(demo) & set(dealt["validation"] + dealt["test"]) and dealt["validation"] and dealt["test"]
    assert sum(r.class_name == UNCAPTIONED for r in demo) == PRETRAINING_UNCAPTIONED_PER_PACKAGE + 3
    assert pretraining_recordings(captioned, uncaptioned, seed=1) != demo  # the seed deals and samples


def test_an_encoder_shared_by_several_folds_hears_no_validation_recording_of_any_of_them():
    """One encoder for the folds of pkg-b and pkg-c (`--encoder-groups`): nothing of either package,
    and of pkg-a only what both folds' corpora deal to the train side."""
    package_c = [
        Recording(r.source.replace("pkg-a", "pkg-c"), "pkg-c", r.class_name, r.license, r.data)
        for r in fake_recordings()
        if r.package == "pkg-a"
    ]
    captioned = with_copies(with_copies(with_copies(fake_recordings() + package_c, "pkg-a"), "pkg-b"), "pkg-c")
    uncaptioned = [
        Recording(f"{p}/u{i}.wav", p, UNCAPTIONED, "GPL-2", b"") for p in ("pkg-a", "pkg-b", "pkg-c") for i in range(3)
    ]
    shared = pretraining_recordings(captioned, uncaptioned, seed=0, held_out=("pkg-b", "pkg-c"))
    assert {recording.package for recording in shared} == {"pkg-a"}
    shared_captioned = {r for r in shared if r.class_name != UNCAPTIONED}
    for package in ("pkg-b", "pkg-c"):
        alone = {r for r in pretraining_recordings(captioned, uncaptioned, 0, package) if r.class_name != UNCAPTIONED}
        assert shared_captioned <= alone and not shared_captioned & set(
            unseen_source_splits(captioned, package, 0)["validation"]
        )
        # the two folds deal pkg-a's recordings differently: the shared encoder hears only what both train on
        assert 0 < len(shared_captioned) < len(alone)
    # one package as a string or as a one-item collection: the same recordings
    assert pretraining_recordings(captioned, uncaptioned, 0, ["pkg-b"]) == pretraining_recordings(
        captioned, uncaptioned, 0, "pkg-b"
    )
    with pytest.raises(ValueError, match="names no package"):
        pretraining_recordings(captioned, uncaptioned, 0, [])


def test_encoder_groups_deal_the_sources_and_keep_their_runs_apart(tmp_path, monkeypatch):
    import unseen_sources
    from unseen_sources import EncoderPlan, encoder_groups, encoder_plan, fold_encoder, parse_args

    sources = ["a", "b", "c", "d", "e"]
    assert encoder_groups(sources, 2) == [("a", "c", "e"), ("b", "d")]
    assert encoder_groups(sources, 5) == [(s,) for s in sources]
    for bad in (0, 6):
        with pytest.raises(ValueError, match="between 1 and the 5 held-out sources"):
            encoder_groups(sources, bad)

    monkeypatch.setattr(unseen_sources, "held_out_sources", lambda min_classes: sources)
    assert encoder_plan("d", 1, tmp_path, 0) == EncoderPlan(tmp_path / "d_seed1", ("d",))
    assert encoder_plan("d", 1, tmp_path, 2) == EncoderPlan(tmp_path / "encoders" / "group2of2_seed1", ("b", "d"))
    with pytest.raises(ValueError, match="'z' makes no fold"):
        encoder_plan("z", 0, tmp_path, 2)

    # a folder whose encoder left out other packages is never taken for this group's
    plan = encoder_plan("a", 0, tmp_path, 2)
    plan.folder.mkdir(parents=True)
    (plan.folder / "held_out.json").write_text('["a", "c"]')
    with pytest.raises(ValueError, match=r"did not hear \['a', 'c'\], not \['a', 'c', 'e'\]"):
        fold_encoder(plan, 0)

    # students on a group's encoder are other runs than those on each fold's own: another folder
    assert parse_args([]).out == "outputs/unseen_sources_groups2"
    assert parse_args(["--encoder-groups", "0"]).out == "outputs/unseen_sources"
    assert parse_args(["--encoder-groups", "3"]).out == "outputs/unseen_sources_groups3"
    assert parse_args(["--encoder-groups", "2", "--out", "x"]).out == "x"


def test_a_recordings_pool_is_shuffled_by_its_seed_and_saved_whole(tmp_path):
    recordings = fake_recordings()
    pool = save_recordings_pool(tmp_path / "pool", recordings, seed=3, progress=False)
    saved = load_from_disk(str(tmp_path / "pool"))
    assert saved["audio_id"] == pool["audio_id"] and sorted(saved["audio_id"]) == sorted(
        build_recordings_pool(recordings, progress=False)["audio_id"]
    )
    assert saved["audio_id"] != sorted(saved["audio_id"])  # shuffled: the mAP's last clips come from anywhere
    assert save_recordings_pool(tmp_path / "again", recordings, seed=3, progress=False)["audio_id"] == pool["audio_id"]


def _pool(count: int):
    return rows_to_dataset(
        [
            {
                "audio": {"bytes": wav_bytes(1.0, frequency=300 + 50 * i, seed=i), "path": f"{i}.wav"},
                "captions": [],
                "audio_id": f"pool-{i}",
                "classes": [],
                "source": f"pkg/{i}.wav",
                "license": "CC0-1.0",
            }
            for i in range(count)
        ]
    )


def test_accepted_pseudo_captions_become_references_and_the_rest_stays_audio_only():
    pool = _pool(3)
    pseudo = [
        PseudoCaption("pool-0", "a dog barks", (("Dog", 0.8),), True),
        PseudoCaption("pool-1", "a dog barks", (("Sine wave", 0.9),), False),
        PseudoCaption("pool-2", "something happens", (("Dog", 0.8),), None),
    ]
    captioned, rest = split_pool(pool, accepted_references(pseudo))
    assert captioned["audio_id"] == ["pool-0"] and captioned["captions"] == [["a dog barks"]]
    assert rest["audio_id"] == ["pool-1", "pool-2"] and rest["captions"] == [[], []]
    captioned, rest = split_pool(pool, accepted_references(pseudo, keep_unjudged=True))
    assert captioned["audio_id"] == ["pool-0", "pool-2"] and rest["audio_id"] == ["pool-1"]
    # the paper: every pseudo-caption is a reference
    captioned, rest = split_pool(pool, accepted_references(pseudo, filtered=False))
    assert len(captioned) == 3 and len(rest) == 0
    assert verdict_counts(pseudo) == {"agrees": 1, "contradicts": 1, "cannot judge": 1}


def _judge_of(class_names):
    """A judge that knows these AudioSet classes: naming a catalogue class reads only their words
    (a 1x1 convolution stands in for YAMNet, which this never runs)."""
    from effnet_trm.trust import AudioSetJudge

    return AudioSetJudge(torch.nn.Conv1d(1, 1, 1), class_names)


def test_audioset_labels_name_a_catalogue_class_only_when_sure_and_specific():
    from effnet_trm.trust import AudioSetView

    judge = _judge_of(["Silence", "Gong", "Animal", "Dog", "Walk, footsteps", "Roaring cats (lions, tigers)", "Rain"])

    def named(*top):
        return catalogue_class_for(AudioSetView(list(top), silence=0.0), judge)

    assert named(("Gong", 0.9)) == "gong"
    assert named(("Silence", 1.0), ("Gong", 0.9)) == "gong"  # a setting is passed over
    assert named(("Animal", 0.95), ("Dog", 0.8)) == "dog"  # and an ontology parent
    assert named(("Roaring cats (lions, tigers)", 0.9)) == "lion"  # the most words shared: lion, roar, cat
    assert named(("Gong", 0.3)) is None  # not sure enough
    assert named(("Walk, footsteps", 0.9)) is None  # names every footsteps class alike
    assert named(("Silence", 1.0)) is None

    views = {"clip-gong": AudioSetView([("Gong", 0.9)], 0.0), "clip-rain": AudioSetView([("Rain", 0.8)], 0.0)}
    views["clip-unsure"] = AudioSetView([("Dog", 0.2)], 0.0)
    references = audioset_references(views, judge, seed=0)
    assert set(references) == {"clip-gong", "clip-rain"}
    assert all(len(captions) == 5 for captions in references.values())
    assert set(references["clip-gong"]) <= set(CLASSES["gong"].clauses)  # one event: its own phrasings
    rain = CLASSES["rain"]  # an ambience: described as a bed
    assert set(references["clip-rain"]) <= set(rain.clauses) | {f"the sound of {noun}" for noun in rain.nouns}
    assert references == audioset_references(views, judge, seed=0)
    # a fold names only its training packages' classes: no gong among them, no gong reference
    only_rain = audioset_references(views, judge, seed=0, classes={"rain": rain})
    assert set(only_rain) == {"clip-rain"}


def test_the_teachers_captions_are_judged_by_yamnet():
    from effnet_trm.teachers.htsat_bart import HTSATBartCaptioner, HTSATBartTeacher
    from effnet_trm.tokenization import build_word_tokenizer
    from effnet_trm.trust import AudioSetJudge, present_yamnet_folder

    folder = present_yamnet_folder()
    if folder is None:
        pytest.skip("YAMNet's weights are not on disk (make setup fetches them)")
    tokenizer = build_word_tokenizer(["a dog barks", "a bell rings", "rain falls on a roof"])
    torch.manual_seed(0)
    model = HTSATBartCaptioner.for_tokenizer("demo", tokenizer)
    teacher, judge = HTSATBartTeacher(model, tokenizer), AudioSetJudge.load(folder)
    pool = _pool(2)
    found = pseudo_caption(teacher, judge, pool, progress=False)
    assert [p.audio_id for p in found] == ["pool-0", "pool-1"]
    for item, row in zip(found, pool):
        assert (
            item.caption == teacher.caption([load_audio(io.BytesIO(row["audio"]["bytes"]), teacher.sampling_rate)])[0]
        )
        view = judge.listen(load_audio(io.BytesIO(row["audio"]["bytes"]), 16000))
        assert item.audioset_top == tuple(view.top)
        assert item.agrees == judge.agrees(item.caption, view, agents_name_speech=False)


def test_distinct_caption_ceiling_counts_sound_combinations():
    from unseen_sources import sound_combinations

    test = {
        "classes": [["dog"], ["dog"], ["dog"], ["dog", "rain"], ["rain", "dog"]],
        "captions": [["a dog barks"], ["a dog barks loudly"], ["a dog barks several times"], ["x"], ["y"]],
    }
    assert sound_combinations(test) == 4


def test_known_sounds_are_the_test_clips_whose_every_class_a_training_clip_holds():
    from unseen_sources import known_sound_clips

    train = {"classes": [["dog"], ["rain", "dog"], ["bell"]]}
    test = {"classes": [["dog"], ["dog", "cow"], ["rain"], ["cow"], ["bell", "rain"]]}
    assert known_sound_clips(test, train) == [0, 2, 4]


def test_fold_scores_count_captions_that_join_words_no_training_caption_joins():
    from unseen_sources import fold_scores

    from effnet_trm.evaluation.metrics import joins_unseen_words, word_pairs

    known = word_pairs(["A dog barks.", "a drum is struck several times"])
    assert ("a", "dog") in known and ("barks", "a") not in known  # pairs stay within a caption
    assert not joins_unseen_words("a drum is struck", known) and not joins_unseen_words("Dog barks!", known)
    assert joins_unseen_words("a is struck several times", known)  # "a is": the slip, though every word is known
    assert not joins_unseen_words("", known) and not joins_unseen_words("rain", known)

    train = {"classes": [["dog"], ["drum"]], "captions": [["a dog barks"], ["a drum is struck several times"]]}
    test = {"classes": [["dog"], ["drum"], ["drum"]], "captions": [["a dog barks"], ["a drum is struck"], ["x y"]]}
    scores = fold_scores(["a dog dog barks", "a is struck", "a drum is struck"], test, train)
    assert (scores["stuttering_captions"], scores["unseen_word_pair_captions"]) == (1, 2)
    assert scores["distinct_captions"] == 3 and scores["clips"] == 3


def test_goal_checks_read_the_means_over_the_sources_every_model_finished():
    from unseen_sources import complete_sources, goal_checks

    def run(cider, distinct, ceiling=10):
        return {"cider_d": cider, "distinct_captions": distinct, "ceiling": ceiling}

    models = ["teacher", "student", "scratch", "supervised"]
    fold = "supervised"  # "fold": the variable names a model's results
    table = {
        "a": {0: {"teacher": run(0.4, 3), "student": run(0.4, 6), "scratch": run(0.1, 2), fold: run(0.6, 5)}},
        "b": {0: {"teacher": run(0.2, 3), "student": run(0.1, 4), "scratch": run(0.1, 2), fold: run(0.3, 5)}},
        "c": {0: {"teacher": run(0.9, 3)}},  # unfinished: left out of every mean
    }
    complete = complete_sources(table, models, [0])
    assert list(complete) == ["a", "b"]
    # each seed deals its own test clips: 5 distinct captions reach half of ceilings 6 and 12 (mean 9),
    # though not half of the first seed's 12
    two_seeds = {"a": {seed: {"student": run(0.4, 5, ceiling)} for seed, ceiling in ((0, 12), (1, 6))}}
    assert goal_checks(complete_sources(two_seeds, ["student"], [0, 1]), ["student"])[-1].endswith("on 1 of 1 sources")
    assert goal_checks(complete, models) == [
        "student / scratch mean CIDEr-D: 2.50 (goal >= 2: met)",
        "student / teacher mean CIDEr-D: 0.83 (goal >= 0.9: not met)",
        "student says >= 50 % of the ceiling's distinct captions on 1 of 2 sources",
        # every trained student but scratch is a candidate for the default, whatever its name
        "supervised / scratch mean CIDEr-D: 4.50 (goal >= 2: met)",
        "supervised / teacher mean CIDEr-D: 1.50 (goal >= 0.9: met)",
        "supervised says >= 50 % of the ceiling's distinct captions on 2 of 2 sources",
    ]


def test_the_headline_mean_carries_the_spread_over_seeds_not_over_sources():
    from unseen_sources import complete_sources, markdown_table, seed_means

    def run(cider):  # a run's scores as `fold_scores` writes them, less what the table does not read
        return {"cider_d": cider, "cider_d_known_sounds": cider, "distinct_captions": 4, "ceiling": 8, "clips": 40}

    def fold(seed_0, seed_1):
        return {0: {"student": {**run(seed_0), "known_sound_clips": 30}}, 1: {"student": run(seed_1)}}

    table = {"a": fold(0.1, 0.3), "b": fold(0.5, 0.1), "c": {0: {"student": run(0.9) | {"known_sound_clips": 30}}}}
    complete = complete_sources(table, ["student"], [0, 1])
    assert list(complete) == ["a", "b"]  # c has one seed only
    assert seed_means(complete, "student") == pytest.approx([0.3, 0.2])
    mean_row = markdown_table(table, ["student"], [0, 1]).splitlines()[-1]
    assert mean_row == "| mean over 2 sources | 8.0 | | 0.250 ± 0.07 | 0.250 | 4.0 |"  # not ± 0.20 over a and b
    single = markdown_table(table, ["student"], [0]).splitlines()[-1]
    assert single == "| mean over 3 sources | 8.0 | | 0.500 | 0.500 | 4.0 |"


def test_every_student_with_a_pretrained_efficientnet_starts_from_the_fold_encoder():
    """The fold's own YAMNet-distilled encoder is the default recipe measured without a leak: every
    student that is not scratch and not the one kept to show the committed weights starts from it."""
    from unseen_sources import COMMITTED_ENCODER, STUDENTS, uses_fold_encoder

    assert [model for model in STUDENTS if not uses_fold_encoder(model)] == ["scratch", COMMITTED_ENCODER]
    assert uses_fold_encoder("student") and not uses_fold_encoder("teacher")


def test_every_seed_asked_for_is_run_quick_or_not():
    from unseen_sources import QUICK_SOURCE, folds, parse_args

    # --quick once dropped every seed but the first without a word
    assert folds(parse_args(["--quick", "--seeds", "1", "2"])) == [(1, QUICK_SOURCE), (2, QUICK_SOURCE)]
    assert folds(parse_args(["--quick"])) == [(0, QUICK_SOURCE)]
    assert folds(parse_args(["--sources", "a", "b", "--seeds", "0", "1"])) == [(0, "a"), (0, "b"), (1, "a"), (1, "b")]


def test_the_pool_takes_at_most_a_sample_of_each_package():
    from effnet_trm.data.demo_corpus import sample_per_package

    recordings = [Recording(f"big/{i}.wav", "big", UNCAPTIONED, "GPL-2", b"") for i in range(100)]
    recordings += [Recording(f"small/{i}.wav", "small", UNCAPTIONED, "GPL-2", b"") for i in range(3)]
    kept = sample_per_package(recordings, 10, seed=0)
    assert sum(r.package == "big" for r in kept) == 10 and sum(r.package == "small" for r in kept) == 3
    assert kept == sorted(kept, key=recordings.index)  # order kept
    assert kept == sample_per_package(recordings, 10, seed=0) != sample_per_package(recordings, 10, seed=1)
