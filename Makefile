# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench clean regtest

# The stamp depends on pyproject.toml, so changing dependencies reinstalls; a second call does not.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[fast,dev]'
	touch $(STAMP)

# A regtest node that mines a block every 5 seconds to the regtest wallet "default" (created
# on first run, unencrypted: a development wallet). Ctrl-C stops it cleanly.
run: $(STAMP)
	@addr=$$($(VENV)/bin/minicash-wallet receive --create-if-missing --label mining) && \
	echo "mining to $$addr (minicash-wallet balance shows the coins)" && \
	exec $(VENV)/bin/minicash-node run --network regtest --mine --mine-interval 5 \
		--miner-address "$$addr"

# Whole files per worker: a module's fixtures (a live node, a browser) are built once.
test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile tests

# The network demo: three nodes, blocks, a payment relayed and confirmed everywhere, balances.
regtest: $(STAMP)
	$(PY) -m regtest demo

lint: $(STAMP)
	$(VENV)/bin/ruff check node wallet regtest tests bench

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis bench/results.json
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
