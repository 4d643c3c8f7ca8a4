"""Typed settings from the environment: a variable of a settings prefix that names no setting."""

from __future__ import annotations

import logging

from faceswap.settings import settings_from, unknown_environment
from faceswap.swapping.frame_swapper import SwapSettings

PREFIX = "FACESWAP_SWAP_"


def test_a_renamed_setting_in_the_environment_is_warned_about_with_the_closest_name(caplog):
    environ = {"FACESWAP_SWAP_LANDMARK_WARP_MODE": "features", "FACESWAP_SWAP_SHARPEN": "0.5", "OTHER": "1"}
    assert unknown_environment(SwapSettings, PREFIX, environ) == ["FACESWAP_SWAP_LANDMARK_WARP_MODE"]
    with caplog.at_level(logging.WARNING, logger="faceswap.settings"):
        settings = settings_from(SwapSettings, env_prefix=PREFIX, environ=environ, warn_unknown=True)
    assert settings.sharpen == 0.5
    [record] = caplog.records
    assert record.getMessage() == ("environment variable FACESWAP_SWAP_LANDMARK_WARP_MODE is not a setting of "
                                   "SwapSettings and is ignored (did you mean FACESWAP_SWAP_LANDMARK_WARP?)")


def test_without_warn_unknown_or_with_only_known_names_nothing_is_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="faceswap.settings"):
        settings_from(SwapSettings, env_prefix=PREFIX, environ={"FACESWAP_SWAP_TYPO": "1"})
        settings_from(SwapSettings, env_prefix=PREFIX, environ={"FACESWAP_SWAP_SHARPEN": "0"}, warn_unknown=True)
    assert caplog.records == []
