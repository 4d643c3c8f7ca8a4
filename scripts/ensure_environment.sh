#!/usr/bin/env bash
# Make sure the project's virtual environment exists and matches requirements.lock.
# Sourced by run_service.sh and run_tests.sh; safe to run again (reinstalls only when the lock changed).
# With --browser it also installs Debian's chromium + chromium-driver (browser tests) when missing.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${FACESWAP_VENV:-$repo_root/.venv}"
lock="$repo_root/requirements.lock"
stamp="$venv/.requirements.lock.sha256"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null 2>&1 || python=python3

if [ ! -x "$venv/bin/python" ]; then
  echo "Creating the virtual environment in $venv ..."
  "$python" -m venv "$venv"
fi

wanted="$(sha256sum "$lock" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  echo "Installing the pinned dependencies from requirements.lock (first run takes a few minutes) ..."
  "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$lock"
  "$venv/bin/python" -m pip check
  echo "$wanted" > "$stamp"
fi

if [ "${1:-}" = "--browser" ] && [ ! -x /usr/bin/chromium ]; then
  echo "Installing Debian's chromium and chromium-driver for the browser tests ..."
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium chromium-driver >/dev/null
fi
