#!/usr/bin/env bash
# Make (or keep training) the bundled default model, exactly as docs/default-model.md describes.
# Work files go to workspace/default (or $FACESWAP_DEFAULT_WORK). Training resumes from
# $work/model/checkpoint.npz, or, on a fresh machine, from the compact checkpoint committed in
# models/default-training/ (checkpoint.npz and its parts checkpoint.partN.npz: float16 weights; the
# optimizer state starts afresh). The train options are scripts/default_model/train_options.txt.
# Usage: scripts/make_default_model.sh [ITERATIONS [EXTRA TRAIN OPTIONS...]]
#   ITERATIONS is the total to reach (default 40000; the committed state has 37,000; the recipe's learning rate is constant, so any
#   stopping point is fine: Ctrl-C or --minutes M saves the checkpoint), then export with the
#   command printed at the end (to $work/export, measured beside models/default before it replaces it;
#   --code-shift 0.5 --code-subspace 8 moves the a2b codes half-way towards the target's (the subspace map of
#   faceswap/model/code_shift.py, side B's 8 principal directions),
#   measured on the training faces of $work, so run it where they were extracted).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure_environment.sh
work="${FACESWAP_DEFAULT_WORK:-workspace/default}"
data=../shared/data
python=.venv/bin/python
iterations="${1:-40000}"
shift || true
if [ ! -f "$work/faces_b/faces.json" ]; then
  # Side B, the target: d6 frames 0-899; frames 900-1007 are held out for the benchmark.
  $python -m faceswap extract $data/clips/d6.mp4 --output "$work/faces_b" --max-frames 900
  $python -m faceswap extract $data/clips/d6.mp4 --output "$work/holdout_b" --first-frame 900
  # Side A, any face: six clips (every 2nd frame) ...
  $python -m faceswap extract $data/clips/d0.mp4 $data/clips/d3.mp4 $data/clips/d9.mp4 $data/clips/d11.mp4 \
      $data/clips/d13.mp4 $data/clips/d20.mp4 --output "$work/faces_a_clips" --every-n-frames 2
  # ... ~120 people of faces/ (every face of a group photo; identity key from the manifest; the clips
  # v25 and v26 are held out) and the human stills: not trained on (at 4,000 iterations the six people
  # of the clips alone gave the better identity, docs/default-model.md) but kept for the ablations'
  # all-people variant.
  $python -m faceswap extract $data/faces/images --output "$work/faces_a_people" --max-faces 10 \
      --identity-key $data/faces/MANIFEST.md
  $python -m faceswap extract $data/faces/videos/v15.mp4 $data/faces/videos/v16.mp4 $data/faces/videos/v17.mp4 \
      $data/faces/videos/v20.mp4 $data/faces/videos/v23.mp4 $data/faces/videos/v24.mp4 \
      --output "$work/faces_a_people" --every-n-frames 3 --identity-key $data/faces/MANIFEST.md
  $python -m faceswap extract $data/stills/s0.jpg $data/stills/s1.jpg $data/stills/s2.jpg $data/stills/s3.jpg \
      $data/stills/s4.jpg $data/stills/s5.jpg $data/stills/s8.jpg $data/stills/s9.jpg $data/stills/s10.jpg \
      $data/stills/s11.jpg $data/stills/s12.jpg --output "$work/faces_a_people"
fi
if [ ! -f "$work/model/checkpoint.npz" ] && [ -f models/default-training/checkpoint.npz ]; then
  mkdir -p "$work/model"
  # the first file and its parts, if any (the names stay checkpoint.npz, checkpoint.part2.npz ...)
  shopt -s nullglob
  parts=(models/default-training/checkpoint.part*.npz)
  shopt -u nullglob
  cp models/default-training/checkpoint.npz "${parts[@]}" "$work/model/"
fi
# the recipe's words, one option or value each (read by scripts/default_model/recipe.py, as the
# ablations and the GPU bundle read it)
recipe_words="$($python scripts/default_model/recipe.py)"
mapfile -t recipe <<< "$recipe_words"
$python -m faceswap train --side-a "$work/faces_a_clips" --side-b "$work/faces_b" \
    --model-dir "$work/model" --iterations "$iterations" "${recipe[@]}" "$@"
echo "export with: $python -m faceswap export --model-dir $work/model --output $work/export" \
     "--tflite-only --code-shift 0.5 --code-subspace 8 --compact-checkpoint $work/training-state/checkpoint.npz" \
     "(then measure it beside models/default and copy it there only if it is better: docs/default-model.md)"
