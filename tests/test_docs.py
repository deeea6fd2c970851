"""The README and docs/ stay true: every command shown exists and parses, every link and anchor
resolves, the README's results table is the one tools/readme_results.py makes from docs/, and the
README stays short."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PYTHONS = {"python", "python3", ".venv/bin/python"}
LAUNCHERS = {"accelerate", "torchrun"}  # their own options first, then the script and its arguments
README_MAX_LINES = 250


def _shown_commands(text: str) -> list[tuple[str, bool]]:
    """The commands of a page, each with whether it is inline: each line of its ```bash blocks
    (continuations joined, comments dropped) and each `code` span of its prose that starts like a
    command."""
    commands = []
    blocks = re.findall(r"^```bash\n(.*?)^```", text, flags=re.M | re.S)
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                commands.append((line.strip(), False))
    prose = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    for span in re.findall(r"`([^`]+)`", prose):
        span = " ".join(span.split())
        words = span.split()
        first = next((w for w in words if "=" not in w), "")  # after VAR=value prefixes
        runs_script = re.fullmatch(r"(benchmarks|datasets_scripts|tools)/\w+\.py|\w+\.py", first or "")
        if first in PYTHONS | LAUNCHERS | {"effnet-trm", "make"} or (runs_script and "--" in span):
            commands.append((span, True))
    return commands


def _words(command: str) -> list[str]:
    words = shlex.split(command, comments=True)
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):  # VAR=value prefixes
        words.pop(0)
    # placeholders of the prose: "[--quantize int8]" is an optional part, "..." more of the same
    return [w.strip("[]") for w in words if w not in ("...", "[", "]") and w.strip("[]")]


def _make_targets() -> set[str]:
    return set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), flags=re.M))


def _module_file(name: str) -> Path | None:
    base = ROOT / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__main__.py"):
        if candidate.exists():
            return candidate
    return None


def _plan(command: str, inline: bool) -> tuple[dict | None, str | None]:
    """(what to parse, or None) and (an error found without running anything, or None).

    A command quoted in prose often leaves its other arguments out (`effnet-trm caption --int8`):
    there the script and sub-command must exist and each flag shown must be one of the parser's."""
    words = _words(command)
    if len(words) < 2 and words[:1] != ["effnet-trm"]:
        return None, None  # `make`, `python ...`: a placeholder
    head = words[0]
    if head == "make":
        missing = [t for t in words[1:] if not t.startswith("-") and t not in _make_targets()]
        return None, f"no make target {missing}" if missing else None
    if head == "effnet-trm":
        return {"kind": "entry", "target": "effnet_trm.cli", "argv": words[1:], "mode": _mode(inline)}, None
    if head == "bash":
        return None, None if (ROOT / words[1]).exists() else f"no file {words[1]}"
    if head in LAUNCHERS:
        scripts = [i for i, w in enumerate(words) if w.endswith(".py")]
        if head == "accelerate" and words[1] != "launch" or inline and not scripts:
            return None, None  # `accelerate save_state`, or the launcher's own options in prose
        if not scripts:
            return None, f"no script in {command!r}"
        words = ["python", *words[scripts[0] :]]
        head = "python"
    if head in PYTHONS:
        words = words[1:]
    elif not head.endswith(".py"):
        return None, None  # pip, .venv/bin/ruff, ...: not ours
    if words in ([], ["-m"]):
        return None, None  # `python -m ...`: a placeholder
    if words[0] == "-m":
        module, argv = words[1], words[2:]
        if module == "pytest":
            paths = [w.split("::")[0] for w in argv if w.startswith("tests/")]
            missing = [p for p in paths if not (ROOT / p).exists()]
            return None, f"no test file {missing}" if missing else None
        source = _module_file(module)
        if source is None:
            return None, f"no module {module}"
        if "argparse" not in source.read_text():
            return None, None  # takes no flags: existence is all there is to check
        return {"kind": "module", "target": module, "argv": argv, "mode": _mode(inline)}, None
    script, argv = words[0], words[1:]
    if not (ROOT / script).exists():
        return None, f"no script {script}"
    if "argparse" not in (ROOT / script).read_text() and "cli import main" not in (ROOT / script).read_text():
        return None, None
    return {"kind": "script", "target": script, "argv": argv, "mode": _mode(inline)}, None


def _mode(inline: bool) -> str:
    return "flags" if inline else "parse"


def _all_commands() -> list[tuple[str, str]]:
    return [(page.relative_to(ROOT).as_posix(), *c) for page in PAGES for c in _shown_commands(page.read_text())]


def test_every_command_shown_exists_and_its_parser_accepts_it():
    commands = _all_commands()
    assert len(commands) > 60, "the command extraction found too few commands"
    errors, to_parse = [], []
    for page, command, inline in commands:
        plan, error = _plan(command, inline)
        if error:
            errors.append(f"{page}: `{command}`: {error}")
        if plan:
            to_parse.append({**plan, "shown": f"{page}: `{command}`"})
    run = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "docs_commands.py")],
        input=json.dumps(to_parse),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    failures = json.loads(run.stdout.strip().splitlines()[-1])
    errors += [f"{f['shown']}: {f['error']}" for f in failures]
    assert not errors, "\n".join(errors)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_and_anchors_resolve(page):
    text = page.read_text()
    prose = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", prose):
        if re.match(r"https?://", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", re.sub(r"^```.*?^```", "", linked.read_text(), flags=re.M | re.S), re.M)
            if anchor not in {_slug(h) for h in headings}:
                broken.append(target)
    assert not broken, f"{page.name}: broken links {broken}"


def test_readme_results_table_is_generated_from_the_docs():
    run = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "readme_results.py"), "--check"], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr


def test_readme_is_short():
    lines = len((ROOT / "README.md").read_text().splitlines())
    assert lines < README_MAX_LINES, f"README.md has {lines} lines: move detail into docs/"
