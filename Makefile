# The two commands a newcomer needs:
#   make run    start the bot (console chat without config.toml; ARGS="-c FILE" for another)
#   make test   run every check and test, installing what they need first
VENV   ?= .venv
PY     := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: run test lint typecheck pytest bench clean system-deps

# Quiet: setuptools' notices about editable installs are for packagers, not for users.
PIP    := PYTHONWARNINGS=ignore $(PY) -m pip -qq --disable-pip-version-check

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -m venv $(VENV)
	@$(PIP) install --upgrade pip
	@$(PIP) install -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	@$(PIP) install -e '.[test]'
	@touch $@

run: $(VENV)/.installed
	@$(PY) bot.py run $(ARGS)

system-deps:
	sh tests/install-servers.sh

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .

typecheck: $(VENV)/.installed-test
	$(VENV)/bin/mypy

pytest: $(VENV)/.installed-test system-deps
	$(PY) -m pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(VENV)/.installed-test system-deps
	$(PY) bench/bench_irc.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache bench/work
