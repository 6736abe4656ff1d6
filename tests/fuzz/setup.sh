#!/usr/bin/env bash
# The fuzzers' Python tooling (schemathesis, pinned in requirements-fuzz.txt) in var/venv-fuzz.
# Idempotent: rebuilt only when the requirements change. Run by `make test` before vitest;
# tests/integration/gateway-fuzz.test.ts drives it against the gateway's OpenAPI document.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
venv=var/venv-fuzz
requirements=tests/fuzz/requirements-fuzz.txt
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ -x "$venv/bin/schemathesis" && "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; then exit 0; fi
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
  echo "[fuzz] installing python3-venv" >&2
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
fi
echo "[fuzz] creating $venv (schemathesis, pinned)" >&2
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
echo "$want" >"$stamp"
