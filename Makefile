# The README's two commands: `make run` and `make test`. Both set up .venv from scratch if needed.
VENV   ?= .venv
PY     := $(VENV)/bin/python
LS     := $(VENV)/bin/latentspace
STAMP  := $(VENV)/.installed
CLUSTER_STAMP := $(VENV)/.installed-cluster
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup migrate run test lint bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	# torch first and pinned: the CPU build on this machine's disk, never a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

# The tests also run the cluster tests (issue 13), which need the optional Ray extra; `make run` does not.
$(CLUSTER_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e ".[dev,cluster]"
	touch $(CLUSTER_STAMP)

migrate: setup
	$(LS) db upgrade

run: migrate
	$(LS) ingest README.md docs --collection docs
	@echo ""
	@echo "Search from another terminal:"
	@echo "  $(LS) search 'how do I configure the database' --collection docs"
	@echo "  curl -s -X POST http://127.0.0.1:8000/v1/collections/docs/search \\"
	@echo "       -H 'content-type: application/json' -d '{\"query\": \"how is search evaluated\", \"k\": 3}'"
	@echo ""
	$(LS) serve --host 127.0.0.1 --port 8000

test: migrate $(CLUSTER_STAMP)
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) data .pytest_cache
