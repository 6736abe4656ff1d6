#!/usr/bin/env bash
# The secrets docker-compose.yml requires (it has no default password), generated once:
#   - var/compose-secrets/kafka/<principal>.password: one random password per Kafka principal
#     of topics/catalogue.json, plus admin and cluster (scripts/kafka-access.ts passwords);
#     mounted as compose secrets, each service gets only its own;
#   - .env (next to docker-compose.yml, ignored by git): random ClickHouse passwords (the
#     owner `default`, one per service user, analyst, grafana) and Grafana's admin password,
#     each only where .env does not set it yet.
# Existing values are kept; rotation: docs/security.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
node --import tsx scripts/kafka-access.ts passwords var/compose-secrets/kafka
touch .env
chmod 600 .env
added=()
for name in CLICKHOUSE_PASSWORD CLICKHOUSE_ANALYST_PASSWORD CLICKHOUSE_GRAFANA_PASSWORD \
  CLICKHOUSE_LOGGER_PASSWORD CLICKHOUSE_DRIFT_PASSWORD CLICKHOUSE_RETRAINER_PASSWORD \
  CLICKHOUSE_PROMOTER_PASSWORD CLICKHOUSE_CONSOLE_PASSWORD GRAFANA_ADMIN_PASSWORD; do
  if ! grep -q "^$name=" .env; then
    printf '%s=%s\n' "$name" "$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n')" >>.env
    added+=("$name")
  fi
done
echo "compose .env: ${#added[@]} new password(s)${added:+ (${added[*]})}"
