#!/usr/bin/env bash
# Run the whole face-swap service locally (prediction server, relay, webcam page).
# Creates .venv from requirements.lock on first use, reinstalls when the lock changed, then hands
# over to scripts/run_service.py (all its options pass through, e.g. --page-port 8080).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${FACESWAP_VENV:-$repo_root/.venv}"
lock="$repo_root/requirements.lock"
stamp="$venv/.requirements.lock.sha256"
python="${PYTHON:-python3.11}"

if ! command -v "$python" >/dev/null 2>&1; then
  python=python3
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "Creating the virtual environment in $venv ..."
  "$python" -m venv "$venv"
fi

wanted="$(sha256sum "$lock" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  echo "Installing the pinned dependencies from requirements.lock ..."
  "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$lock"
  echo "$wanted" > "$stamp"
fi

exec "$venv/bin/python" "$repo_root/scripts/run_service.py" "$@"
