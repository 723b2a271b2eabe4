# Tac: `make run` serves the chat on http://127.0.0.1:8000, `make test` runs the whole suite.
# Python packages come from the lock files (requirements/*.lock: exact versions and their
# hashes); `make lock` regenerates them after a change to pyproject.toml's dependencies.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LOCK := requirements/dev.lock
BENCH_LOCK := requirements/bench.lock
# A new stamp, so a reinstall, whenever the lock or pyproject.toml changes.
STAMP := $(VENV)/.installed-$(shell cat $(LOCK) pyproject.toml | cksum | cut -d' ' -f1)
N ?= 2
STACK_PORT ?= 8080
PYTEST_ARGS ?=

.PHONY: install run test lint format lock system-deps stack stack-down bench bench-posts load chaos vendor clean

# Every step says what it does (the first install takes a minute or so: no silent pip -q).
$(STAMP): $(LOCK) pyproject.toml
	@echo "==> Creating $(VENV) and installing Tac's packages from $(LOCK) (first run only)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --progress-bar on --upgrade pip
	$(BIN)/pip install --progress-bar on --require-hashes -r $(LOCK)
	@echo "==> Installing Tac itself (editable)"
	$(BIN)/pip install --progress-bar on --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $(STAMP)
	@echo "==> Installed"

install: $(STAMP)

# `make run PORT=9000` (or TAC_PORT=9000) serves on another port.
PORT ?=
run: $(STAMP)
	$(BIN)/tac run $(if $(PORT),--port $(PORT))

system-deps:
	./ops/system-deps.sh

test: $(STAMP) system-deps
	$(BIN)/pytest $(PYTEST_ARGS)

# Regenerate the locks with uv (installed in $(UV_VENV), a venv of its own): dev.lock (make
# install/run/test), bench.lock (make bench/load) and app.lock (the app alone, for
# ops/Dockerfile), the last two with dev.lock's versions. Versions already locked are kept
# unless pyproject.toml asks otherwise; `make lock UPGRADE=1` takes the newest allowed. The
# libraries tac/patches.py touches are pinned (==) in pyproject.toml and the locks follow:
# raising one means checking its patch first. Check the diff, then `make test`.
UV_VENV ?= .uv
UV_VERSION ?= 0.13.9
APP_LOCK := requirements/app.lock
UV_COMPILE = $(UV_VENV)/bin/uv pip compile -q pyproject.toml --generate-hashes --universal \
	--python-version 3.11 $(if $(UPGRADE),--upgrade)

lock:
	test -x $(UV_VENV)/bin/uv || { $(PYTHON) -m venv $(UV_VENV) && \
		$(UV_VENV)/bin/pip install -q uv==$(UV_VERSION); }
	$(UV_COMPILE) --extra dev --extra embedded -o $(LOCK)
	$(UV_COMPILE) --extra dev --extra embedded --extra bench -c $(LOCK) -o $(BENCH_LOCK)
	$(UV_COMPILE) -c $(LOCK) -o $(APP_LOCK)

lint: $(STAMP)
	$(BIN)/ruff check src tests ops examples
	$(BIN)/ruff format --check src tests ops examples
	$(BIN)/mypy src
	$(BIN)/lint-imports --no-cache

format: $(STAMP)
	$(BIN)/ruff format src tests ops examples
	$(BIN)/ruff check --fix src tests ops examples

# N instances behind nginx on http://127.0.0.1:$(STACK_PORT), with MongoDB and Redis
# (ops/stack.py; pid files and logs in var/stack/). `make stack N=4`, `make stack-down`.
stack: $(STAMP) system-deps
	$(BIN)/python ops/stack.py up --instances $(N) --port $(STACK_PORT)

stack-down:
	$(BIN)/python ops/stack.py down

# Benchmarks (ops/bench/, BENCHMARKS.md), each against a stack of its own, bounded in time.
# `make bench N=2000` (or N=500,1000,2000 for one table), S senders x M messages at R/s.
# `make load` runs Locust (ops/locustfile.py): SCENARIO=mix|original, RUN_TIME, USERS.
BENCH_STAMP := $(VENV)/.bench-$(shell cat $(BENCH_LOCK) pyproject.toml | cksum | cut -d' ' -f1)
BENCH_N = $(if $(filter command line environment,$(origin N)),$(N),2000)
S ?= 10
M ?= 30
R ?= 10
BENCH_PORT ?= 8080
BENCH_ARGS ?=
SCENARIO ?= mix
RUN_TIME ?= 60s
USERS ?= 50
LOAD_ARGS ?=

$(BENCH_STAMP): $(STAMP) $(BENCH_LOCK)
	$(BIN)/pip install --progress-bar on --require-hashes -r $(BENCH_LOCK)
	rm -f $(VENV)/.bench-*
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP) system-deps
	$(BIN)/python -m ops.bench --n $(BENCH_N) --senders $(S) --messages $(M) --rate $(R) \
		--port $(BENCH_PORT) $(BENCH_ARGS)

# `make bench-posts RATE_POSTS=40,0`: 100 senders in a room of 100, posts/s stored and
# delivered, send-to-stored latency, MongoDB's CPU against the app's (0 = closed loop).
RATE_POSTS ?= 40,0
bench-posts: $(BENCH_STAMP) system-deps
	$(BIN)/python -m ops.bench.posts --rate $(RATE_POSTS) --port $(BENCH_PORT) $(BENCH_ARGS)

load: $(BENCH_STAMP) system-deps
	$(BIN)/python -m ops.bench.load --scenario $(SCENARIO) --run-time $(RUN_TIME) \
		--port $(BENCH_PORT) --users $(USERS) --spawn-rate 10 $(LOAD_ARGS)

# Chaos (ops/chaos.py): CLIENTS post RATE messages/s for SECONDS over their sockets while
# Redis restarts and an instance is SIGKILLed; fails unless every view is the stored room.
CLIENTS ?= 50
RATE ?= 40
SECONDS ?= 60
chaos: $(STAMP) system-deps
	$(BIN)/python -m ops.chaos --clients $(CLIENTS) --rate $(RATE) --seconds $(SECONDS)

# Re-vendor the pinned htmx and Swagger UI files from npm (versions in package.json), so
# no page needs a third-party origin. Install scripts are not run (swagger-ui-dist's reports
# installs to a tracker).
SWAGGER_FILES := swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE
vendor:
	npm install --no-save --no-package-lock --ignore-scripts
	cp node_modules/htmx.org/dist/htmx.min.js src/tac/static/htmx.min.js
	cp node_modules/htmx-ext-ws/dist/ws.min.js src/tac/static/ws.min.js
	mkdir -p src/tac/static/swagger
	cd node_modules/swagger-ui-dist && cp $(SWAGGER_FILES) ../../src/tac/static/swagger/

clean:
	rm -rf $(VENV) $(UV_VENV) var build dist *.egg-info node_modules
