"""Run the argparse parser of each command shown in the docs, and stop right after it parsed.

Used by tests/test_docs.py, in a subprocess of its own (so one set of imports serves every command):
reads a JSON list of commands ({"kind": "script" | "module" | "entry", "target", "argv", "mode", "shown"};
"entry" is an installed console script: its module run without the current folder on sys.path) on stdin and
prints a JSON list of failures ({"shown", "error"}). A command's script runs as `python` would run it
(`__main__`, its folder first on sys.path) until its top-level parser returns; then a `_Parsed`
exception stops it, before it does any work. A parse error (argparse's exit 2) is a failure, and so
is a script that ends or raises before it parses anything.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import runpy
import sys
import traceback


class _Parsed(BaseException):
    """Raised as soon as the command's top-level parser has parsed its arguments (or, in "flags"
    mode, is about to: it carries the parser)."""

    def __init__(self, parser: argparse.ArgumentParser | None = None):
        super().__init__()
        self.parser = parser


_state = {"depth": 0, "strict": False, "flags_only": False}
_parse_known_args = argparse.ArgumentParser.parse_known_args
_parse_args = argparse.ArgumentParser.parse_args


def _patched_parse_known_args(self, args=None, namespace=None):
    if _state["flags_only"]:
        raise _Parsed(self)
    _state["depth"] += 1  # sub-command parsers are called from inside their parent's parse
    try:
        result = _parse_known_args(self, args, namespace)
    finally:
        _state["depth"] -= 1
    if _state["depth"] == 0 and not _state["strict"]:
        raise _Parsed
    return result


def _patched_parse_args(self, args=None, namespace=None):
    if _state["flags_only"]:
        raise _Parsed(self)
    _state["strict"] = True  # parse_args refuses unknown arguments after parse_known_args returns
    try:
        _parse_args(self, args, namespace)
    finally:
        _state["strict"] = False
    raise _Parsed


def _unknown_flags(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """The `--flags` of argv that the parser (or the sub-command's parser argv names) lacks."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            named = [word for word in argv if word in action.choices]
            if named:
                parser = action.choices[named[0]]
    known = parser._option_string_actions
    return [w for w in argv if w.startswith("-") and w.split("=")[0] not in known]


def check(command: dict) -> str | None:
    """None when the command's parser accepts its arguments, else why not. In "flags" mode (a
    command quoted in prose, often without its other arguments), only that every flag shown exists."""
    _state["flags_only"] = command.get("mode") == "flags"
    argparse.ArgumentParser.parse_known_args = _patched_parse_known_args
    argparse.ArgumentParser.parse_args = _patched_parse_args
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            if command["kind"] == "script":
                sys.argv = [command["target"], *command["argv"]]
                sys.path.insert(0, os.path.dirname(os.path.abspath(command["target"])))
                runpy.run_path(command["target"], run_name="__main__")
            else:  # `python -m` puts the current folder first; an installed entry point does not
                sys.argv = [command["target"], *command["argv"]]
                if command["kind"] == "module":
                    sys.path.insert(0, os.getcwd())
                runpy.run_module(command["target"], run_name="__main__", alter_sys=True)
    except _Parsed as parsed:
        if parsed.parser is not None:
            unknown = _unknown_flags(parsed.parser, command["argv"])
            return f"no such option {unknown}" if unknown else None
        return None
    except SystemExit as exit_:
        if exit_.code in (0, None):
            return None  # --help
        return f"argparse refused it (exit {exit_.code}): {stderr.getvalue().strip()[-400:]}"
    except Exception:
        return "raised before parsing: " + traceback.format_exc(limit=3)[-600:]
    finally:
        argparse.ArgumentParser.parse_known_args = _parse_known_args
        argparse.ArgumentParser.parse_args = _parse_args
        sys.argv, sys.path[:] = saved_argv, saved_path
    return "ended without parsing any arguments"


def main() -> int:
    failures = []
    for command in json.load(sys.stdin):
        error = check(command)
        if error:
            failures.append({"shown": command["shown"], "error": error})
    print(json.dumps(failures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
