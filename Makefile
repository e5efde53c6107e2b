# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# torch is pinned here and installed first, so that actlab's own install (pyproject.toml declares
# torch>=2.4, which the pin satisfies) keeps it. Which build pip picks depends on where it looks: a
# CPU wheel where pip is set to find one (find-links, a local index), else PyPI's, which on Linux is
# the multi-GB CUDA build. TORCH holds pip's arguments, so the CPU build can be asked for by name:
#   make TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.installed
# timm imports torchvision, and PyPI's torchvision is built against PyPI's CUDA torch: beside the CPU
# build it fails to import. The export tests run timm in a subprocess beside torchvision's Python
# code without its compiled operators (which timm's models do not use), kept apart from the venv.
TIMM_SITE := $(VENV)/timm-site

.PHONY: demo test lint install clean

# Each step says what it does and about how long it takes (pip stays quiet for minutes otherwise).
$(STAMP): pyproject.toml Makefile
	@echo "[1/5] creating the virtual environment $(VENV) (a few seconds)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "[2/5] upgrading pip (about 10 s)"
	$(BIN)/python -m pip install -q --upgrade pip
	@echo "[3/5] installing $(TORCH) (about 2 min for the CPU build, a download of about 200 MB)"
	$(BIN)/python -m pip install -q $(TORCH)
	@echo "[4/5] installing actlab and its dependencies (about 2 min)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	@echo "[5/5] timm for the export tests, in $(TIMM_SITE) (a few seconds)"
	rm -rf $(TIMM_SITE)
	$(BIN)/python -m pip install -q --no-deps --target $(TIMM_SITE) "timm>=1.0" "torchvision==0.28.0"
	rm -f $(TIMM_SITE)/torchvision/_C.so
	echo "# emptied: the compiled operators these fake kernels are for are not here" > $(TIMM_SITE)/torchvision/_meta_registrations.py
	touch $(STAMP)
	@echo "installed: $(VENV)"

install: $(STAMP)

# The activation functions of the source articles compared on MNIST-1D (generated locally): 15 x 8
# runs, packed 15 to a model, on 2 worker processes (~1 min on 2 cores); then a short evolution of a
# new function on the same data (successive halving: 2 epochs on half the training split, the best
# third 4 epochs, the best ninth 10), tested against ReLU and the best catalogue functions.
# Reports: demo-out/compare/report.html, demo-out/evolve/report.html.
demo: $(STAMP)
	@echo "demo 1/2: comparing the 15 activation functions of the source articles on MNIST-1D, 8 seeds each (about 1 min)"
	$(BIN)/actlab compare --dataset mnist1d --model mlp --activations articles --baseline relu \
	    --seeds 8 --epochs 50 --patience 10 --workers 2 --out demo-out/compare
	rm -rf demo-out/evolve
	@echo "demo 2/2: evolving a new activation function on MNIST-1D, then testing it against ReLU (a few minutes)"
	$(BIN)/actlab evolve --dataset mnist1d --model mlp --population 24 --generations 8 \
	    --fidelities 2:0.5,4,10 --hof 3 --final-seeds 8 --workers 2 --out demo-out/evolve

test: $(STAMP)
	@echo "running the test suite on 2 pytest workers (about 9 min on 2 cores)"
	$(BIN)/python -m pytest -q -n 2  # two pytest workers: 7 min instead of 11 on 2 cores

# What a machine checks on every commit (also as pre-commit hooks, .pre-commit-config.yaml): ruff's
# lint rules and format over the tree, and mypy over the typed core ([tool.mypy] in pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) demo-out .pytest_cache
