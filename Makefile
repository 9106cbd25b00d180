# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test audit install translations extract-messages bench clean

run: $(VENV)/.installed translations
	$(BIN)/helpdesk init </dev/null
	$(BIN)/helpdesk demo
	$(BIN)/helpdesk serve --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-test translations
	scripts/ensure-chromium
	scripts/ensure-dovecot
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Known vulnerabilities in the installed dependencies (pip-audit; CI runs it after the tests).
audit: $(VENV)/.installed-test
	$(BIN)/pip install --quiet -e '.[audit]'
	scripts/audit-dependencies $(BIN)/python

install: $(VENV)/.installed

$(VENV)/.venv-created:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools
	touch $@

$(VENV)/.installed: $(VENV)/.venv-created setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.venv-created setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

# Compiled catalogues (.mo) are build products, made from the .po files in the repository.
translations: $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -d helpdesk/translations -D messages

extract-messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k _ln:1,2 -k lazy_ngettext:1,2 --no-location --sort-output -o helpdesk/translations/messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching -i helpdesk/translations/messages.pot -d helpdesk/translations -D messages

bench: $(VENV)/.installed-test
	$(BIN)/python bench/queue.py

clean:
	rm -rf $(VENV) instance .pytest_cache
