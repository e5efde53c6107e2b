# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# The CPU build of torch is pinned here and installed first: a plain `torch` requirement would
# pull a multi-GB CUDA build. pyproject.toml declares torch>=2.4, which the pin satisfies.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.installed

.PHONY: demo test install clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# The activation functions of the source articles compared on MNIST-1D (generated locally): 15 x 8
# runs, packed 15 to a model, on 2 worker processes (~1 min on 2 cores); then a short evolution of a
# new function on the same data, tested against ReLU and the best catalogue function.
# Reports: demo-out/compare/report.html, demo-out/evolve/report.html.
demo: $(STAMP)
	$(BIN)/actlab compare --dataset mnist1d --model mlp --activations seeds --baseline relu \
	    --seeds 8 --epochs 50 --patience 10 --workers 2 --out demo-out/compare
	rm -rf demo-out/evolve
	$(BIN)/actlab evolve --dataset mnist1d --model mlp --population 24 --generations 8 \
	    --final-seeds 8 --out demo-out/evolve

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2  # two pytest workers: 7 min instead of 11 on 2 cores

clean:
	rm -rf $(VENV) demo-out .pytest_cache
