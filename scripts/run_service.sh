#!/usr/bin/env bash
# Run the whole face-swap service locally (prediction server, relay, webcam page).
# Makes sure .venv matches requirements.lock (scripts/ensure_environment.sh: created on first use,
# reinstalled when the lock changed), then hands over to scripts/run_service.py; all options pass
# through, e.g. scripts/run_service.sh --page-port 8080 --model-dir workspace/export
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$repo_root/scripts/ensure_environment.sh"
exec "${FACESWAP_VENV:-$repo_root/.venv}/bin/python" "$repo_root/scripts/run_service.py" "$@"
