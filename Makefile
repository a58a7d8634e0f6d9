# Single entry point. Every target installs what it needs first, so a fresh clone on a machine
# with Python 3.11+, Node 20 and npm needs nothing else (browser tests apt-get Chromium as root).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .stamps
LOGS := .tollgate/logs

# Quiet, offline-friendly tooling: no jsii Node-20 banner, no CDK telemetry or notices.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := 1
export PYTHONDONTWRITEBYTECODE := 1
# No Material for MkDocs banner about its successor on every docs build.
export NO_MKDOCS_2_WARNING := 1
CDK := npx --no-install cdk --no-notices
DOCS_PORT ?= 8002

.PHONY: help deps lambda-python synth check test deploy deploy-role dev docs bench stripe-setup failed-accounts usage-report usage-redrive evidence tag-keys migrate-keys status smoke lock browser

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

# The installs below run on the first run and again only when their lock file changes (the
# .stamps/ files record when they last succeeded). Each says in one line what it installs and where
# the installer's own output goes (a log under $(LOGS)/); when it fails, the log's last lines show.
# $(call logged,<log file>,<command>): the command's output into the log; on failure its tail, its path.
define logged
mkdir -p $(dir $(1)) && { $(2); } >$(1) 2>&1 || { status=$$?; \
  echo "==> That failed (exit $$status). The last lines of $(1):" >&2; tail -n 30 $(1) >&2; exit $$status; }
endef

$(STAMPS)/venv: requirements.txt pyproject.toml
	@mkdir -p $(STAMPS)
	@echo "==> Installing the pinned Python packages into $(VENV) (a few minutes; only on the first run and after requirements.txt changes; to watch: tail -f $(LOGS)/install-python.log)..."
	@$(call logged,$(LOGS)/install-python.log,{ test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); } && $(BIN)/python -m pip install --disable-pip-version-check -r requirements.txt)
	@# Make tollgate (lambda_src/), infra, localdev, ops and bench importable inside the venv.
	@$(BIN)/python -c "import site, pathlib; pathlib.Path(site.getsitepackages()[0], 'tollgate-dev.pth').write_text('$(CURDIR)\n$(CURDIR)/lambda_src\n')"
	@touch $@
	@echo "==> Python packages installed; later runs skip this step."

$(STAMPS)/node: package.json package-lock.json
	@mkdir -p $(STAMPS)
	@echo "==> Installing the pinned AWS CDK CLI into node_modules (npm ci; only on the first run and after package-lock.json changes; log: $(LOGS)/install-cdk-cli.log)..."
	@$(call logged,$(LOGS)/install-cdk-cli.log,npm ci --no-audit --no-fund)
	@touch $@
	@echo "==> AWS CDK CLI installed; later runs skip this step."

deps: $(STAMPS)/venv $(STAMPS)/node  ## create .venv, install pinned Python deps and the pinned CDK CLI

browser:  ## install Debian's Chromium for the browser tests when it is missing (needs root)
	@command -v chromium >/dev/null || { \
	  echo "==> Installing Debian's Chromium and fonts-liberation for the browser tests (first run only, about a minute)..."; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -q && apt-get install -y -q --no-install-recommends chromium fonts-liberation; }

# Bundling compiles the Lambda's bytecode with the runtime's Python version: say what to install
# (or set) in one line before the CDK CLI starts, rather than in a synth traceback.
lambda-python: deps
	@$(BIN)/python -m infra.lambda_asset python >/dev/null

synth: lambda-python  ## synthesize cdk.out/Tollgate.template.json offline and print the cdk-nag result
	$(CDK) synth -q
	$(BIN)/python -m infra.nag_report cdk.out

# Lint and format check over every Python file (ruff), then the types of every Python tree (mypy: strict on
# the Lambda's code, mypy's defaults elsewhere), all configured in pyproject.toml: `make test` runs them
# first, so CI (ci.yml runs `make test`) fails on a finding before the suite starts. mypy keeps its cache in
# .tollgate/: about 21 s on a fresh clone, 2 s after.
check: deps  ## lint, format check and type-check (`.venv/bin/ruff check --fix . && .venv/bin/ruff format .` repair most)
	$(BIN)/ruff check --quiet .
	$(BIN)/ruff format --check --quiet .
	$(BIN)/mypy

test: deps browser check  ## make check, then the whole test suite
	$(BIN)/python -m pytest

deploy: lambda-python  ## cdk deploy to the account of your current AWS credentials (ARGS: more cdk deploy options)
	$(CDK) deploy Tollgate $(ARGS)

deploy-role: deps  ## once per account: GitHub's OIDC provider + the least-privilege role deploy.yml assumes (ARGS="--repo OWNER/NAME")
	@$(BIN)/python -m ops.deploy_role $(ARGS)

dev: deps  ## run the whole product locally on emulators (no AWS/Stripe/Moesif account; ARGS="--help")
	@$(BIN)/python -m localdev $(ARGS)

docs: deps  ## write docs/settings.md from infra/settings.py, then serve the docs site on 127.0.0.1:8002 (DOCS_PORT)
	$(BIN)/python -m infra.settings_doc
	$(BIN)/mkdocs serve --dev-addr 127.0.0.1:$(DOCS_PORT)

bench: deps  ## register latency vs the seed's order, cold init, the reporter, a 1,000,000-call evidence download, sign-ups per second free and paid (figures, never fails on them)
	$(BIN)/python -m bench

stripe-setup: deps  ## create the Stripe product, meter and price idempotently (ARGS="--help")
	$(BIN)/python -m ops.stripe_setup $(ARGS)

failed-accounts: deps  ## list accounts a rollback could not undo; ARGS="--clean" removes what they hold
	$(BIN)/python -m ops.failed_accounts $(ARGS)

status: deps  ## one screen: accounts, keys vs quota, reconciler, metering backlog, failed rows, alarms firing (ARGS="--help")
	@$(BIN)/python -m ops.status $(ARGS)

migrate-keys: deps  ## upgrade step (issue 20): import the keys customers hold into the keys table; a dry run unless ARGS="--apply"
	$(BIN)/python -m ops.migrate_keys $(ARGS)

tag-keys: deps  ## upgrade step: tag every key the accounts table records with this deployment's owner tag (ARGS="--help")
	$(BIN)/python -m ops.tag_keys $(ARGS)

usage-report: deps  ## per customer: API Gateway's count vs the usage ledger vs Stripe's units (ARGS="--from DAY --to DAY")
	$(BIN)/python -m ops.usage_report $(ARGS)

evidence: deps  ## one account's billed calls as the CSV its account page downloads (ARGS="--email EMAIL [--from DAY --to DAY] [--out FILE]")
	@$(BIN)/python -m ops.evidence $(ARGS)

usage-redrive: deps  ## re-send the usage dead letters exactly once; list reports pending past Stripe's 24 h (ARGS="--help")
	$(BIN)/python -m ops.usage_redrive $(ARGS)

smoke: deps  ## the owner's acceptance test of the deployed stack: sign up, calls, Stripe's meter, account, rotate, plan, cancel, clean up (ARGS="--help")
	@$(BIN)/python -m ops.smoke $(ARGS)

lock: $(STAMPS)/venv  ## re-pin requirements.txt, then the Lambda's lambda_src/requirements.txt (hashes) from it
	$(BIN)/uv pip compile requirements.in --output-file requirements.txt --python $(BIN)/python --quiet \
	  --custom-compile-command "make lock"
	$(BIN)/python -m infra.lambda_asset lock
