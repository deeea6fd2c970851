"""`make compat`: the model files and the package under the oldest and the newest transformers they claim.

For each transformers release asked for (default: the lower bound in pyproject.toml and the newest
5.x release the registry serves), a throw-away environment is layered over the project's venv
(`.cache/compat/transformers-X.Y.Z`: a venv whose `.pth` file adds the project venv's packages
behind its own), pip installs that transformers release into it (with any dependency pin the release
needs, e.g. an older tokenizers), and the checks below run there as pytest tests. Prints a table of
version x check -> pass/fail. Not part of CI: it asks the registry, so its answer depends on the day.

    python tools/compat.py                      # lower bound and newest 5.x
    python tools/compat.py --versions 5.10.0 5.24.0
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import subprocess
import sys
import sysconfig
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]

#: check -> the tests that make it (pytest node ids, relative to the repo root).
CHECKS = {
    "Hub round trip (plain save_pretrained -> AutoModel, remote code)": [
        "tests/test_hub_contract.py::test_plain_save_pretrained_loads_through_the_auto_classes",
        "tests/test_hub_contract.py::test_a_folder_saved_from_remote_code_is_complete_again",
        "tests/test_model_student.py::test_save_and_auto_load_with_remote_code",
    ],
    "transformers.pipeline (custom pipeline)": [
        "tests/test_hub_contract.py::test_pipeline_captions_a_file_an_array_and_another_rate",
    ],
    "generate: KV cache = no cache (beam, greedy)": [
        "tests/test_model_student.py::test_generate_with_and_without_cache_agree",
        "tests/test_model_student.py::test_kv_cache_decoding_equals_full_recomputation",
    ],
    "no deprecation warning": [
        "tests/test_hub_contract.py::test_generation_and_the_cache_print_no_deprecation_warning",
    ],
    "one distillation step (3 encoder losses)": [
        "tests/test_distill.py::test_one_training_step_per_mode_moves_the_loss",
    ],
    "fast search = generate (6 settings)": [
        "tests/test_decoding.py::test_fast_generate_equals_generate",
    ],
    "ONNX export = PyTorch": [
        "tests/test_export_onnx.py::test_onnx_beam_and_greedy_captions_equal_generate",
    ],
}


def transformers_range() -> str:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return next(d for d in dependencies if re.match(r"transformers\b", d)).removeprefix("transformers")


def lower_bound() -> str:
    version = re.search(r">=\s*([\d.]+)", transformers_range()).group(1)
    return version + ".0" * (2 - version.count("."))


def newest_release(major: str) -> str:
    """The newest release of the supported major version that the registry serves."""
    listing = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", "transformers"], capture_output=True, text=True, check=True
    ).stdout
    versions = re.search(r"Available versions: (.*)", listing).group(1).split(", ")
    return next(v for v in versions if v.startswith(major + ".") and re.fullmatch(r"[\d.]+", v))


def layered_environment(version: str) -> Path:
    """A venv that sees the project's packages, with transformers==version installed over them."""
    env = ROOT / ".cache" / "compat" / f"transformers-{version}"
    python = env / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
        site = Path(
            subprocess.run(
                [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
        (site / "project-venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", f"transformers=={version}"],
        check=True,
    )
    return python


def run_checks(python: Path, report: Path) -> dict[str, str]:
    """Run every check's tests under `python`; pass/fail per check from pytest's JUnit report."""
    node_ids = [node for nodes in CHECKS.values() for node in nodes]
    subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", *node_ids],
        cwd=ROOT,
        check=False,
    )
    outcomes: dict[str, list[bool]] = {}
    for case in ElementTree.parse(report).iter("testcase"):
        file = case.get("classname").replace(".", "/") + ".py"
        test = case.get("name").split("[")[0]
        failed = any(child.tag in ("failure", "error") for child in case)
        outcomes.setdefault(f"{file}::{test}", []).append(not failed)
    results = {}
    for check, nodes in CHECKS.items():
        ran = [ok for node in nodes for ok in outcomes.get(node, [])]
        results[check] = "pass" if ran and all(ran) else ("not run" if not ran else "FAIL")
    return results


def installed_version(python: Path) -> str:
    return subprocess.run(
        [str(python), "-c", "import transformers; print(transformers.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def print_table(results: dict[str, dict[str, str]]) -> None:
    versions = list(results)
    print(f"\ntransformers compatibility ({datetime.date.today()}, torch and the rest from the lock)\n")
    print("| check | " + " | ".join(versions) + " |")
    print("|---|" + "---|" * len(versions))
    for check in CHECKS:
        print(f"| {check} | " + " | ".join(results[v][check] for v in versions) + " |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--versions", nargs="+", help="transformers releases (default: lower bound and newest)")
    args = parser.parse_args(argv)
    versions = args.versions or [lower_bound(), newest_release(lower_bound().split(".")[0])]
    results = {}
    for version in dict.fromkeys(versions):
        print(f"\n=== transformers {version}", flush=True)
        python = layered_environment(version)
        assert installed_version(python) == version, f"the layered venv did not get transformers {version}"
        results[version] = run_checks(python, python.parent.parent / "report.xml")
    print_table(results)
    (ROOT / ".cache" / "compat" / "results.json").write_text(json.dumps(results, indent=2))
    return 0 if all(r == "pass" for v in results.values() for r in v.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
