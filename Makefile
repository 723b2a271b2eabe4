# Tac: `make run` serves the chat on http://127.0.0.1:8000, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
N ?= 2
STACK_PORT ?= 8080
PYTEST_ARGS ?=

.PHONY: install run test lint format system-deps stack stack-down bench load vendor clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/tac run

system-deps:
	./ops/system-deps.sh

test: $(STAMP) system-deps
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests ops examples
	$(BIN)/ruff format --check src tests ops examples
	$(BIN)/mypy src

format: $(STAMP)
	$(BIN)/ruff format src tests ops examples
	$(BIN)/ruff check --fix src tests ops examples

# N instances behind nginx on http://127.0.0.1:$(STACK_PORT), with MongoDB and Redis
# (ops/stack.py; pid files and logs in var/stack/). `make stack N=4`, `make stack-down`.
stack: $(STAMP) system-deps
	$(BIN)/python ops/stack.py up --instances $(N) --port $(STACK_PORT)

stack-down:
	$(BIN)/python ops/stack.py down

# Re-vendor the pinned htmx files from npm (versions in package.json).
vendor:
	npm install --no-save --no-package-lock
	cp node_modules/htmx.org/dist/htmx.min.js src/tac/static/htmx.min.js
	cp node_modules/htmx-ext-ws/dist/ws.min.js src/tac/static/ws.min.js

clean:
	rm -rf $(VENV) var build dist *.egg-info node_modules
