# `make run` and `make test` set everything up on a fresh machine with only Python 3.11.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Development defaults; production sets DEBUG=0 and real secrets (see README).
export DEBUG ?= 1

.PHONY: install run test smoke lint format migrations-check clean

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/python scripts/devstack.py -- $(BIN)/python scripts/run_platform.py

# The tests' embedded services keep their data in var/test, apart from `make run`'s (var/),
# so both can run at once.
TEST_STACK := $(BIN)/python scripts/devstack.py --data-dir var/test --

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(TEST_STACK) $(BIN)/python manage.py makemigrations --check --dry-run
	$(TEST_STACK) $(BIN)/pytest $(PYTEST_ARGS)

# The whole stack on its own port, database and Redis: a candle close must write a trade.
smoke: install
	$(BIN)/python scripts/smoke

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var staticfiles
