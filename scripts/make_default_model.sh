#!/usr/bin/env bash
# Make (or keep training) the bundled default model, exactly as docs/default-model.md describes.
# Work files go to workspace/default (or $FACESWAP_DEFAULT_WORK); training resumes from its checkpoint.
# Usage: scripts/make_default_model.sh [ITERATIONS]    then export with the last command below.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure_environment.sh
work="${FACESWAP_DEFAULT_WORK:-workspace/default}"
data=../shared/data
python=.venv/bin/python
if [ ! -f "$work/faces_b/faces.json" ]; then
  $python -m faceswap extract $data/clips/d6.mp4 --output "$work/faces_b" --max-frames 900
  $python -m faceswap extract $data/clips/d6.mp4 --output "$work/holdout_b" --first-frame 900
  $python -m faceswap extract $data/clips/d0.mp4 $data/clips/d3.mp4 $data/clips/d9.mp4 $data/clips/d11.mp4 \
      $data/clips/d13.mp4 $data/clips/d20.mp4 --output "$work/faces_a" --every-n-frames 2
  $python -m faceswap extract $data/stills/s0.jpg $data/stills/s1.jpg $data/stills/s2.jpg $data/stills/s3.jpg \
      $data/stills/s4.jpg $data/stills/s5.jpg $data/stills/s8.jpg $data/stills/s9.jpg $data/stills/s10.jpg \
      $data/stills/s11.jpg $data/stills/s12.jpg --output "$work/faces_a"
fi
$python -m faceswap train --side-a "$work/faces_a" --side-b "$work/faces_b" --model-dir "$work/model" \
    --config lite --iterations "${1:-100000}" --learning-rate 1e-4 --save-interval 250 --preview-interval 500
echo "export with: $python -m faceswap export --model-dir $work/model --output models/default"
