#!/usr/bin/env bash
# Mutation testing of the core with mutmut (docs/testing.md), run by hand, not in CI (too slow).
#
#   scripts/mutation_test.sh                       # every target below, one after the other
#   scripts/mutation_test.sh frame_protocol masks  # some targets (names: ORDER below)
#
# Each target mutates its modules against a focused, fast test selection, in a scratch copy of the
# working tree ($FACESWAP_MUTATION_DIR, default /tmp/faceswap-mutation/<target>; mutmut writes its
# mutants/ there, never into the repository). mutmut runs niced with one child at a time
# (MUTATION_CHILDREN to change that). Prints one JSON line per target (killed, survived, score, load
# average) and writes them to $FACESWAP_MUTATION_DIR/scores.jsonl; the survivors are listed by
# `mutmut results` in the target's folder, and `mutmut show <name>` prints one.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${FACESWAP_VENV:-$repo_root/.venv}"
work="${FACESWAP_MUTATION_DIR:-/tmp/faceswap-mutation}"
children="${MUTATION_CHILDREN:-1}"
shared_data="${FACESWAP_SHARED_DATA:-$(cd "$repo_root/.." && pwd)/shared/data}"

# target -> modules to mutate (globs) | the tests that must kill their mutants. One module per
# target where its tests are slow: mutmut runs every selected test that reaches a mutated function.
declare -A MODULES TESTS
MODULES[frame_protocol]="websocket_server/frame_protocol.py"
TESTS[frame_protocol]="tests/websocket_server/test_frame_protocol.py tests/websocket_server/test_frame_protocol_contract.py"
MODULES[instances]="prediction_routine/instances.py"
TESTS[instances]="tests/prediction_routine/test_instance_fields_contract.py"
MODULES[stream_states]="prediction_routine/stream_states.py"
TESTS[stream_states]="tests/prediction_routine/test_stream_states.py tests/prediction_routine/test_stream_states_contract.py"
MODULES[smoothing]="faceswap/faces/smoothing.py"
TESTS[smoothing]="tests/faceswap/faces/test_smoothing.py tests/faceswap/faces/test_smoother_reset_contract.py tests/faceswap/faces/test_one_euro_contract.py"
MODULES[alignment]="faceswap/faces/alignment.py"
TESTS[alignment]="tests/faceswap/faces/test_alignment.py tests/faceswap/faces/test_alignment_contract.py"
MODULES[masks]="faceswap/faces/masks.py"
TESTS[masks]="tests/faceswap/faces/test_masks.py tests/faceswap/faces/test_feature_masks_contract.py"
MODULES[landmarks]="faceswap/faces/landmarks.py"
TESTS[landmarks]="tests/faceswap/faces/test_landmarks.py"
MODULES[landmark_model]="faceswap/faces/landmark_model.py"
TESTS[landmark_model]="tests/faceswap/faces/test_landmark_model.py"
MODULES[detection]="faceswap/faces/detection.py"
TESTS[detection]="tests/faceswap/faces/test_detection.py"
MODULES[blending]="faceswap/swapping/blending.py"
TESTS[blending]="tests/faceswap/swapping/test_blending.py tests/faceswap/swapping/test_blend_contract.py"
MODULES[watermark]="faceswap/swapping/watermark.py"
TESTS[watermark]="tests/faceswap/swapping/test_watermark.py tests/faceswap/swapping/test_mark_blend_contract.py"
MODULES[sharpening]="faceswap/swapping/sharpening.py"
TESTS[sharpening]="tests/faceswap/swapping/test_sharpening.py"
MODULES[color_transfer]="faceswap/swapping/color_transfer.py"
TESTS[color_transfer]="tests/faceswap/swapping/test_color_transfer.py tests/faceswap/swapping/test_color_transfer_contract.py"
MODULES[local_tone]="faceswap/swapping/local_tone.py"
TESTS[local_tone]="tests/faceswap/swapping/test_local_tone.py"
MODULES[landmark_warp]="faceswap/swapping/landmark_warp.py"
TESTS[landmark_warp]="tests/faceswap/swapping/test_landmark_warp.py"
MODULES[frame_swapper]="faceswap/swapping/frame_swapper.py"
TESTS[frame_swapper]="tests/faceswap/swapping/test_frame_swapper.py tests/faceswap/swapping/test_frame_swapper_contract.py"
# MediaPipe does not survive being forked after it ran: these targets fork each mutant from a
# clean fork server instead of from mutmut's own process (slower start, same verdicts).
declare -A ISOLATION=([masks]=forkserver [alignment]=forkserver [detection]=forkserver [landmarks]=forkserver
                      [landmark_model]=forkserver [blending]=forkserver
                      [watermark]=forkserver [sharpening]=forkserver [color_transfer]=fork [local_tone]=fork
                      [frame_swapper]=forkserver [landmark_warp]=forkserver)
# These targets' tests need MediaPipe only to find the faces they work on (the swapping fixtures):
# their selection runs once first, filling the landmark cache (FACESWAP_LANDMARK_CACHE, see
# tests/faceswap/swapping/conftest.py); after that no run starts MediaPipe, so each mutant can be
# forked from mutmut's own process (seconds instead of tens of seconds per mutant).
declare -A WARM_LANDMARKS=([color_transfer]=1 [local_tone]=1)
ORDER=(frame_protocol instances stream_states smoothing masks alignment blending watermark sharpening frame_swapper
       color_transfer local_tone landmark_warp landmarks landmark_model detection)

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${ORDER[@]}")
for target in "${targets[@]}"; do
    [ -n "${MODULES[$target]:-}" ] || { echo "unknown target '$target' (known: ${ORDER[*]})" >&2; exit 2; }
done

mkdir -p "$work"
# The session's tiny test model (~30-60 s to build) is built once here and shared by every mutant
# (tests/conftest.py: FACESWAP_TEST_MODEL_DIR); rebuilt when its recipe changes.
test_model="$work/test-model"
recipe_hash="$(cat "$repo_root/faceswap/export/test_model.py" | sha256sum | cut -c1-16)"
if [ ! -f "$test_model/model/manifest.json" ] || [ "$(cat "$test_model/recipe" 2>/dev/null)" != "$recipe_hash" ]; then
    rm -rf "$test_model"
    (cd "$repo_root" && TF_CPP_MIN_LOG_LEVEL=2 nice -n 10 "$venv/bin/python" -c \
        "import sys; from pathlib import Path; from faceswap.export.test_model import build_test_model_dir; \
build_test_model_dir(Path(sys.argv[1]) / 'model', work_dir=Path(sys.argv[1]) / 'work')" "$test_model" > "$work/test-model.log" 2>&1)
    echo "$recipe_hash" > "$test_model/recipe"
fi
for target in "${targets[@]}"; do
    copy="$work/$target"
    rm -rf "$copy"
    mkdir -p "$copy"
    # The working tree as it is (tracked and new files, nothing ignored), without .git.
    (cd "$repo_root" && git ls-files -co --exclude-standard -z | xargs -0 -r tar -c --ignore-failed-read -f - 2>/dev/null) \
        | tar -x -C "$copy"
    {
        echo "[mutmut]"
        echo "source_paths ="
        for package in faceswap prediction_routine websocket_server; do echo "    $package"; done
        echo "only_mutate ="
        for module in ${MODULES[$target]}; do echo "    $module"; done
        echo "also_copy ="
        echo "    models"
        echo "    scripts"
        echo "pytest_add_cli_args_test_selection ="
        for tests in ${TESTS[$target]}; do echo "    $tests"; done
        echo "process_isolation = ${ISOLATION[$target]:-fork}"
        echo "pytest_add_cli_args ="
        echo "    -p"
        echo "    no:cacheprovider"
        echo "    --durations=0"
    } > "$copy/setup.cfg"
    started=$(date +%s)
    if [ -n "${WARM_LANDMARKS[$target]:-}" ]; then
        (cd "$copy" && FACESWAP_SHARED_DATA="$shared_data" FACESWAP_TEST_MODEL_DIR="$test_model/model" \
            FACESWAP_LANDMARK_CACHE="$work/landmark-cache" TF_CPP_MIN_LOG_LEVEL=2 GLOG_minloglevel=2 \
            nice -n 10 "$venv/bin/python" -m pytest -q -p no:cacheprovider ${TESTS[$target]} > "$copy/warm-up.log" 2>&1) || {
            echo "the tests of $target fail before mutation; see $copy/warm-up.log" >&2; continue; }
    fi
    (cd "$copy" && FACESWAP_LANDMARK_CACHE="$work/landmark-cache" \
        FACESWAP_SHARED_DATA="$shared_data" FACESWAP_TEST_MODEL_DIR="$test_model/model" TF_CPP_MIN_LOG_LEVEL=2 GLOG_minloglevel=2 \
        nice -n 10 "$venv/bin/mutmut" run --max-children "$children" > "$copy/mutmut-run.log" 2>&1) || {
        echo "mutmut failed for $target; see $copy/mutmut-run.log" >&2; tail -20 "$copy/mutmut-run.log" >&2; continue; }
    (cd "$copy" && "$venv/bin/mutmut" export-cicd-stats > /dev/null && "$venv/bin/mutmut" results > "$copy/survivors.txt")
    "$venv/bin/python" - "$target" "$copy/mutants/mutmut-cicd-stats.json" "$(( $(date +%s) - started ))" \
        "${MODULES[$target]}" <<'EOF' | tee -a "$work/scores.jsonl"
import json, os, sys
target, path, seconds, modules = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split()
stats = json.load(open(path))
# A mutant that makes the tests time out (an endless loop) is detected: it counts as killed.
killed = stats.get("killed", 0) + stats.get("caught_by_type_check", 0) + stats.get("timeout", 0)
judged = killed + stats.get("survived", 0) + stats.get("no_tests", 0) + stats.get("suspicious", 0)
print(json.dumps({"target": target, "modules": modules, "killed": killed, "survived": stats.get("survived", 0),
                  "no_tests": stats.get("no_tests", 0), "timeout": stats.get("timeout", 0),
                  "score_percent": round(100.0 * killed / judged, 1) if judged else None,
                  "seconds": seconds, "load_average": os.getloadavg()[0]}))
EOF
done
