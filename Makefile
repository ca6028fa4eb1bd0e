# Two commands: `make run` serves the app on the embedded default, `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PLUGINS := $(wildcard plugins/*/pyproject.toml)
HOST ?= 127.0.0.1
PORT ?= 8001

.PHONY: run test install browser nginx bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml $(PLUGINS)
	$(BIN)/pip install --quiet -e '.[test]' $(foreach p,$(PLUGINS),-e $(dir $(p)))
	touch $@

# newman runs the Postman collection (.postman/) in the test suite.
.postman/node_modules/.bin/newman: .postman/package.json .postman/package-lock.json
	npm ci --prefix .postman --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed .postman/node_modules/.bin/newman

run: install
	$(BIN)/flask --app wsgi db upgrade
	$(BIN)/flask --app wsgi ensure-dev-admin
	$(BIN)/gunicorn -c gunicorn.conf.py -b $(HOST):$(PORT) wsgi:app

# The docs-rendering tests drive headless Chromium (Debian package); install it when missing.
browser:
	@command -v chromium >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || \
		apt-get install -y -qq chromium >/dev/null 2>&1 || \
		{ apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

# The nginx front's tests run Debian's nginx (deploy/nginx.conf); install it when missing.
nginx:
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || [ "$$(id -u)" != 0 ] || \
		apt-get install -y -qq nginx >/dev/null 2>&1 || \
		{ apt-get update -qq && apt-get install -y -qq nginx >/dev/null; }

test: install browser nginx
	$(BIN)/ruff check .
	$(BIN)/python -m pytest --cov=dxconnect --cov-report=term $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench

lint: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .coverage htmlcov
