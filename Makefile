# Two commands do all setup on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PLUGINS := $(wildcard plugins/*/pyproject.toml)
PLUGIN_DIRS := $(patsubst %/pyproject.toml,%,$(PLUGINS))
EDITABLES := -e 'core[s3,serve,postgres,dask]' $(foreach p,$(PLUGIN_DIRS),-e $(p))

.PHONY: install dev demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The core and every plugin, installed editable in one pip call (msgevents is not on PyPI).
$(VENV)/.installed: $(BIN)/python core/pyproject.toml $(PLUGINS)
	$(BIN)/python -m pip install --quiet $(EDITABLES)
	touch $@

$(VENV)/.dev: $(VENV)/.installed pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

dev: $(VENV)/.dev

# A real collection over the sample export files in examples/ into Data Feed files.
# The samples are synthetic: never look their links up in a real account from ./.env.
demo: install
	@rm -rf demo-output
	MSGEVENTS_EPISERVER_FILE_LINK_LOOKUP=never MSGEVENTS_EPISERVER_CAMPAIGN_ID=mailing \
	$(BIN)/msgevents collect --provider episerver \
	    --input examples/episerver/recipients_20241104.csv \
	    --input examples/episerver/opens_20241104.csv \
	    --input examples/episerver/clicks_20241104.csv.gz \
	    --input examples/episerver/responses_20241104.csv \
	    --input examples/episerver/unsubscribes_20241104.csv \
	    --to feed:demo-output/feeds --state demo-output/state.db
	@echo
	$(BIN)/msgevents collect --provider mailgun \
	    --input examples/mailgun/events.jsonl \
	    --input examples/mailgun/webhooks.jsonl.gz \
	    --to feed:demo-output/mailgun-feeds --state demo-output/state.db
	@echo
	$(BIN)/msgevents collect --provider ses \
	    --input examples/ses/firehose-20241104-0900.json.gz \
	    --input examples/ses/sns-notifications-20241104.jsonl \
	    --to feed:demo-output/ses-feeds --state demo-output/state.db
	@echo
	MSGEVENTS_TWILIO_IDENTITY_FILE=examples/twilio/lookup/phones.csv \
	$(BIN)/msgevents collect --provider twilio \
	    --input examples/twilio/status-callbacks-20250214.jsonl \
	    --to feed:demo-output/twilio-feeds --state demo-output/state.db
	@echo
	$(BIN)/msgevents collect --provider onesignal \
	    --input examples/onesignal/event-stream-20250310.jsonl \
	    --to feed:demo-output/onesignal-feeds --state demo-output/state.db
	@echo
	@ls -l demo-output/feeds demo-output/mailgun-feeds demo-output/ses-feeds demo-output/twilio-feeds \
	    demo-output/onesignal-feeds
	@echo "first lines of the feed files:"
	@head -n 4 demo-output/feeds/event_history_*.json demo-output/mailgun-feeds/event_history_*.json \
	    demo-output/ses-feeds/event_history_*.json demo-output/twilio-feeds/event_history_*.json \
	    demo-output/onesignal-feeds/event_history_*.json

test: dev
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache
