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

.PHONY: setup demo smoke test clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch, torchvision and timm resolved together from the registry (a few GB, a few minutes)
	$(BIN)/pip install -q -e ".[test,export]"
	touch $(STAMP)

setup: $(STAMP)
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $(APT_PACKAGES); \
		else echo "note: install $(APT_PACKAGES) (Debian) for the browser test"; fi; \
	fi

# The main job (see README): until training lands, a captioning smoke run of a fresh model.
demo: setup
	$(BIN)/effnet-trm init-model outputs/smoke-model
	$(BIN)/python -c "import numpy as np, soundfile as sf; t=np.arange(16000*5)/16000; sf.write('outputs/smoke.wav', (0.3*np.sin(2*np.pi*440*t)).astype('float32'), 16000)"
	$(BIN)/effnet-trm caption outputs/smoke.wav --model outputs/smoke-model

test: setup
	$(BIN)/python -m pytest -q

clean:
	rm -rf outputs runs .pytest_cache
