# Two commands on a fresh machine: `make demo` and `make test`.
VENV   := .venv
BIN    := $(VENV)/bin
PYTHON ?= python3
PG_TEST_URL    ?= postgresql+asyncpg://postgres@127.0.0.1:5432/cityops_test
REDIS_TEST_URL ?= redis://127.0.0.1:6379/15

.PHONY: install browser demo serve test test-pg lint lock bench clean

$(BIN)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

install: $(BIN)/.installed

# Browser tests drive Debian's Chromium (Playwright's own browser download does not work offline); CJK fonts for
# Chinese pages and PDF reports. Installed once, as root, when missing.
browser:
	@command -v chromium >/dev/null && fc-list | grep -qi wqy || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; \
	  else echo "install chromium and fonts-wqy-microhei (Debian packages) for the browser tests" >&2; exit 1; fi; }

# Embedded SQLite at ./var/cityops.db, demo district seeded once, served on http://127.0.0.1:8000, with simulated
# officers moving on the map (`cityops simulate`) and Traccar Client phones welcome on port 5055.
# Ctrl-C stops both: a background job ignores SIGINT in a script, so the trap stops the simulator.
demo: install
	$(BIN)/cityops db upgrade
	$(BIN)/cityops demo --if-empty
	@echo "cityops on http://127.0.0.1:8000  (API docs: /docs; logins printed above, password cityops-demo)"
	@$(BIN)/cityops simulate --url http://127.0.0.1:8000 & sim=$$!; \
	trap 'kill $$sim 2>/dev/null; wait $$sim 2>/dev/null' EXIT INT TERM; \
	$(BIN)/cityops serve --host 127.0.0.1 --port 8000 --osmand-port 5055

# The whole suite on SQLite (Redis tests use the local Redis; they fail, not skip, without it).
test: install browser
	CITYOPS_TEST_REDIS_URL=$(REDIS_TEST_URL) $(BIN)/pytest -q

# The same suite on PostgreSQL.
test-pg: install browser
	CITYOPS_TEST_DATABASE_URL=$(PG_TEST_URL) CITYOPS_TEST_REDIS_URL=$(REDIS_TEST_URL) $(BIN)/pytest -q

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src

lock:
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^cityops' > requirements.lock

clean:
	rm -rf var .pytest_cache
