#!/usr/bin/env bash
# Run the whole test suite: sets up .venv from requirements.lock and Debian's chromium when
# missing, then runs pytest (extra arguments pass through, e.g. scripts/run_tests.sh -k relay).
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$repo_root/scripts/ensure_environment.sh" --browser
cd "$repo_root"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}" GLOG_minloglevel="${GLOG_minloglevel:-2}"
exec "${FACESWAP_VENV:-$repo_root/.venv}/bin/python" -m pytest "$@"
