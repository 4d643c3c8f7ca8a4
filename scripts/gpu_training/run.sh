#!/usr/bin/env bash
# Train on a GPU machine that has no network and no TensorFlow (see docs/training.md):
#
#   bash scripts/gpu_training/run.sh BUNDLE OUTPUT [train_gpu.py options, e.g. --minutes 9 --backend jax]
#
# Installs the bundle's wheels (keras and the two packages it needs beyond the machine's) into a
# private folder with --no-index, then runs train_gpu.py from the repository root.
set -euo pipefail
bundle=${1:?usage: run.sh BUNDLE OUTPUT [options]}
output=${2:?usage: run.sh BUNDLE OUTPUT [options]}
shift 2
bundle=$(cd "$bundle" && pwd)
mkdir -p "$output" && output=$(cd "$output" && pwd)
repo=$(cd "$(dirname "$0")/../.." && pwd)
python=${PYTHON:-python3}
site=${FACESWAP_WHEEL_SITE:-/tmp/faceswap-site}
if compgen -G "$bundle/wheels/*.whl" >/dev/null; then
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" \
        "$bundle"/wheels/*.whl
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONUNBUFFERED=1
cd "$repo"
exec "$python" scripts/gpu_training/train_gpu.py --bundle "$bundle" --output "$output" --quiet "$@"
