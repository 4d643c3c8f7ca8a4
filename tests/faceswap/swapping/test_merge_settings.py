"""The merge settings of issue 8 on real faces, through the real FrameSwapper: resampling that
keeps detail, sharpening that never pushes detail above the input's, the mouth region that keeps
the person's own open mouth, the eye region that keeps the person's own blink, and a mask that
follows the current frame (docs/merge-settings.md).

Detail is measured as the quality benchmark measures it (faceswap.evaluation.detail) with the
pass-through model (faceswap.evaluation.passthrough): the ceiling of what the pipeline keeps."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceswap.conversion.video_io import read_frames
from faceswap.evaluation.detail import inner_face_mask, laplacian_variance
from faceswap.evaluation.passthrough import PassThroughModel
from faceswap.errors import InputError
from faceswap.faces.alignment import CLASSIC_MODEL_LAYOUT, alignment_matrix, transform_points
from faceswap.faces.masks import EYE_CLOSED_RATIO, EYE_CLOSING_RATIO, eye_opening_ratios, mouth_opening_ratio
from faceswap.faces.smoothing import LandmarkSmoother
from faceswap.images import read_image
from faceswap.swapping.frame_swapper import FrameSwapper, SwapSettings

STILLS = ["s0", "s3", "s4", "s9"]
BILINEAR = dict(align_interpolation="linear", paste_interpolation="linear", sharpen=0.0)


@pytest.fixture(scope="module")
def pass_through():
    return PassThroughModel(CLASSIC_MODEL_LAYOUT)


def _ceiling(model, detector, frame, **settings) -> float:
    """Detail of the pass-through output over the input's, in the inner face (lossless)."""
    face = detector.detect(frame)[0]
    swapper = FrameSwapper(model, detector, SwapSettings(mark=False, force_mark=False, **settings))
    output = swapper.swap_frame(frame, "a2b").frame
    inner = inner_face_mask(face.landmarks, frame.shape)
    return laplacian_variance(output, inner) / laplacian_variance(frame, inner)


@pytest.mark.parametrize("still", STILLS)
def test_default_resampling_and_sharpening_raise_the_ceiling(pass_through, face_detector, still_path, still):
    frame = read_image(still_path(still))
    bilinear = _ceiling(pass_through, face_detector, frame, **BILINEAR)
    resampled = _ceiling(pass_through, face_detector, frame, sharpen=0.0)
    default = _ceiling(pass_through, face_detector, frame)
    assert resampled > 1.05 * bilinear, (bilinear, resampled)
    assert default > 1.3 * bilinear, (bilinear, default)


@pytest.mark.parametrize("still", STILLS)
@pytest.mark.parametrize("face_width", [0, 90])
def test_the_default_never_has_more_detail_than_the_input(pass_through, face_detector, still_path, still, face_width):
    """Sharpening restores what resampling softened; it must not invent edges: the pass-through
    output keeps less detail than the input, for the sample still and for the same still shrunk
    until the face is about 90 px wide (barely enlarged by the paste)."""
    frame = read_image(still_path(still))
    if face_width:
        box = face_detector.detect(frame)[0].box
        scale = face_width / float(box[2] - box[0])
        frame = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    assert _ceiling(pass_through, face_detector, frame) < 0.95


@pytest.fixture(scope="module")
def open_and_closed(clip_path, face_detector):
    """d12 frames 99 (mouth closed) to 117 (the mouth opened at 116), each with its face."""
    frames = []
    for index, frame in enumerate(read_frames(clip_path("d12"))):
        if index >= 99:
            frames.append((frame, face_detector.detect(frame)[0]))
        if index == 117:
            break
    assert mouth_opening_ratio(frames[0][1].landmarks) < 0.04 < 0.3 < mouth_opening_ratio(frames[-1][1].landmarks)
    return frames


def _mouth_centre(landmarks68: np.ndarray) -> tuple[int, int]:
    x, y = np.round(landmarks68[[62, 66]].mean(axis=0)).astype(int)
    return int(x), int(y)


def test_mouth_region_keeps_the_persons_open_mouth(pass_through, face_detector, open_and_closed, test_model_dir):
    from faceswap.model.runtime import load_swap_model

    model = load_swap_model(test_model_dir)
    (closed, _), (opened, open_face) = open_and_closed[0], open_and_closed[-1]
    with_mouth = FrameSwapper(model, face_detector, SwapSettings(mark=False, mouth=True))
    without = FrameSwapper(model, face_detector, SwapSettings(mark=False, mouth=False))

    kept = with_mouth.swap_frame(opened, "a2b").frame
    swapped = without.swap_frame(opened, "a2b").frame
    x, y = _mouth_centre(open_face.landmarks)
    mouth = (slice(y - 2, y + 3), slice(x - 4, x + 5))
    assert np.array_equal(kept[mouth], opened[mouth])
    assert np.abs(swapped[mouth].astype(int) - opened[mouth]).max() > 10  # the model paints its own mouth there
    # the rest of the face is still swapped
    nose = np.round(open_face.landmarks[30]).astype(int)
    assert np.array_equal(kept[nose[1], nose[0]], swapped[nose[1], nose[0]])
    # a closed mouth: the setting changes nothing
    assert np.array_equal(with_mouth.swap_frame(closed, "a2b").frame, without.swap_frame(closed, "a2b").frame)


@pytest.fixture(scope="module")
def open_and_blinking(shared_data, face_detector):
    """v23 (faces/videos; never trained on) frame 53, eyes open, and 57, the bottom of a blink."""
    frames = {}
    for index, frame in enumerate(read_frames(shared_data / "faces" / "videos" / "v23.mp4")):
        if index in (53, 57):
            frames[index] = (frame, face_detector.detect(frame)[0])
        if index == 57:
            break
    assert min(eye_opening_ratios(frames[53][1].landmarks)) > EYE_CLOSING_RATIO
    assert max(eye_opening_ratios(frames[57][1].landmarks)) < EYE_CLOSED_RATIO
    return frames[53], frames[57]


def test_eye_region_keeps_the_persons_blink(face_detector, open_and_blinking, test_model_dir):
    from faceswap.model.runtime import load_swap_model

    model = load_swap_model(test_model_dir)
    (opened, _), (blinking, face) = open_and_blinking
    with_eyes = FrameSwapper(model, face_detector, SwapSettings(mark=False, eyes=True))
    without = FrameSwapper(model, face_detector, SwapSettings(mark=False, eyes=False))

    kept = with_eyes.swap_frame(blinking, "a2b").frame
    swapped = without.swap_frame(blinking, "a2b").frame
    for first, second in ((36, 39), (42, 45)):
        x, y = np.round((face.landmarks[first] + face.landmarks[second]) / 2).astype(int)
        lids = (slice(y - 1, y + 2), slice(x - 2, x + 3))
        assert np.abs(kept[lids].astype(int) - blinking[lids]).max() <= 2     # the person's own closed lids
        assert np.abs(swapped[lids].astype(int) - blinking[lids]).max() > 10  # the model paints its own eye there
    # the rest of the face is still swapped
    nose = np.round(face.landmarks[30]).astype(int)
    assert np.array_equal(kept[nose[1], nose[0]], swapped[nose[1], nose[0]])
    # open eyes: the setting changes nothing
    assert np.array_equal(with_eyes.swap_frame(opened, "a2b").frame, without.swap_frame(opened, "a2b").frame)


def test_mask_follows_the_current_frame_not_the_smoothed_landmarks(face_detector, open_and_closed, test_model_dir):
    """d12 moves fast: landmarks smoothed behind the frame lag by several px (a smoother that lets go
    slowly, One-Euro beta 3, the default until session 19); the mask (here its mouth region)
    follows the frame's own landmarks."""
    from faceswap.faces.smoothing import SmoothingSettings
    from faceswap.model.runtime import load_swap_model

    model = load_swap_model(test_model_dir)
    opened, open_face = open_and_closed[-1]
    lagging = SmoothingSettings(beta=3.0)
    smoother = LandmarkSmoother(lagging)
    smoothed = [smoother.smooth(face.landmarks, step / 25.0) for step, (_, face) in enumerate(open_and_closed)]
    assert np.linalg.norm(smoothed[-1][66] - open_face.landmarks[66]) > 3.0  # the smoothed lower lip lags
    results = {}
    for follow in ("current", "smoothed"):
        swapper = FrameSwapper(model, face_detector, SwapSettings(mark=False, mouth=True, mask_landmarks=follow))
        smoother = LandmarkSmoother(lagging)
        for step, (frame, face) in enumerate(open_and_closed):
            results[follow] = swapper.swap_frame(frame, "a2b", smoother, timestamp_s=step / 25.0).frame
    x, y = _mouth_centre(open_face.landmarks)
    mouth = (slice(y - 1, y + 2), slice(x - 3, x + 4))
    assert np.array_equal(results["current"][mouth], opened[mouth])
    assert not np.array_equal(results["smoothed"][mouth], opened[mouth])


@pytest.fixture(scope="module")
def shipped_model():
    from pathlib import Path

    from faceswap.model.runtime import load_swap_model

    return load_swap_model(Path(__file__).resolve().parents[3] / "models" / "default")


@pytest.mark.parametrize("clip, index", [("v25", 10), ("v17", 40)])
def test_local_tone_takes_the_targets_pale_patch_away_and_keeps_the_detail(shared_data, face_detector, shipped_model,
                                                                           clip, index):
    """The shipped model draws the target's pale forehead and nose bridge (her footage's light) on
    people it never saw (v25, v17); matching the tone region by region takes most of it away
    (the tone error falls) and leaves the model's detail as it was."""
    from faceswap.evaluation.tone import tone_error

    frame = next(f for i, f in enumerate(read_frames(shared_data / "faces" / "videos" / f"{clip}.mp4")) if i == index)
    face = face_detector.detect(frame)[0]
    default = SwapSettings().local_tone
    assert default > 0
    outputs = {tone: FrameSwapper(shipped_model, face_detector, SwapSettings(mark=False, local_tone=tone))
               .swap_frame(frame, "a2b").frame for tone in (0.0, default)}
    before, after = (tone_error(frame, outputs[tone], face.landmarks) for tone in (0.0, default))
    assert before > 4.0 and after < 0.7 * before, (before, after)
    inner = inner_face_mask(face.landmarks, frame.shape)
    detail = [laplacian_variance(outputs[tone], inner) for tone in (0.0, default)]
    assert 0.9 < detail[1] / detail[0] < 1.1, detail
    # the optional darken-only pass takes more of the pale patch (at a cost in identity: merge-settings.md)
    highlights = FrameSwapper(shipped_model, face_detector, SwapSettings(mark=False, local_tone_highlights=0.1))
    assert tone_error(frame, highlights.swap_frame(frame, "a2b").frame, face.landmarks) < after
    # on its own too (the first pass off), and with colour "none" neither pass runs
    alone = FrameSwapper(shipped_model, face_detector, SwapSettings(mark=False, local_tone=0.0, local_tone_highlights=0.1))
    assert tone_error(frame, alone.swap_frame(frame, "a2b").frame, face.landmarks) < before
    plain = [FrameSwapper(shipped_model, face_detector, SwapSettings(mark=False, color="none", local_tone=tone))
             .swap_frame(frame, "a2b").frame for tone in (0.0, default)]
    assert np.array_equal(plain[0], plain[1])


def test_the_landmark_warp_turns_the_swapped_face_to_the_users_head_pose(clip_path, face_detector, shipped_model):
    """d18 turns his head ~15 degrees (frame 32); the shipped model draws its target nearly frontal
    (its one clip is); the warp, on by default, turns the swapped face's own landmarks to his pose."""
    from faceswap.evaluation.head_pose import head_pose, pose_difference

    frame = next(f for i, f in enumerate(read_frames(clip_path("d18"))) if i == 32)
    user = head_pose(face_detector.detect(frame)[0].landmarks, frame.shape)
    assert SwapSettings().landmark_warp == 1.0 and SwapSettings().landmark_warp_features == 0.35
    errors = {}
    for strength in (0.0, 1.0):
        output = FrameSwapper(shipped_model, face_detector, SwapSettings(mark=False, landmark_warp=strength)) \
            .swap_frame(frame, "a2b").frame
        difference = pose_difference(user, head_pose(face_detector.detect(output)[0].landmarks, frame.shape))
        errors[strength] = float(np.mean([difference[axis] for axis in ("yaw", "pitch", "roll")]))
    assert user["yaw"] > 10.0
    assert errors[0.0] > 5.0 and errors[1.0] < 0.75 * errors[0.0], errors


@pytest.mark.parametrize("settings", [dict(align_interpolation="bicubic"), dict(paste_interpolation="area"),
                                      dict(mask_landmarks="later")])
def test_bad_merge_settings_are_clear_errors(pass_through, face_detector, settings):
    with pytest.raises(InputError):
        FrameSwapper(pass_through, face_detector, SwapSettings(**settings))


def test_the_settings_come_from_the_environment_as_convert_and_the_routine_read_them():
    from faceswap.settings import settings_from

    settings = settings_from(SwapSettings, env_prefix="FACESWAP_SWAP_",
                             environ={"FACESWAP_SWAP_SHARPEN": "0.25", "FACESWAP_SWAP_MOUTH": "false",
                                      "FACESWAP_SWAP_PASTE_INTERPOLATION": "lanczos"})
    assert (settings.sharpen, settings.mouth, settings.paste_interpolation) == (0.25, False, "lanczos")
