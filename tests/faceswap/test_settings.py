"""Typed settings from the environment: a variable of a settings prefix that names no setting."""

from __future__ import annotations

import logging

from faceswap.settings import settings_from, unknown_environment
from faceswap.swapping.frame_swapper import SwapSettings

PREFIX = "FACESWAP_SWAP_"


def test_a_misspelt_setting_in_the_environment_is_warned_about_with_the_closest_name(caplog):
    environ = {"FACESWAP_SWAP_SHARPNESS": "0.1", "FACESWAP_SWAP_SHARPEN": "0.5", "OTHER": "1"}
    assert unknown_environment(SwapSettings, PREFIX, environ) == ["FACESWAP_SWAP_SHARPNESS"]
    with caplog.at_level(logging.WARNING, logger="faceswap.settings"):
        settings = settings_from(SwapSettings, env_prefix=PREFIX, environ=environ, warn_unknown=True)
    assert settings.sharpen == 0.5
    [record] = caplog.records
    assert record.getMessage() == ("environment variable FACESWAP_SWAP_SHARPNESS is not a setting of "
                                   "SwapSettings and is ignored (did you mean FACESWAP_SWAP_SHARPEN?)")


def test_a_renamed_setting_in_the_environment_is_warned_about_with_its_new_name(caplog):
    """Session 18 replaced landmark_warp_mode by landmark_warp_features: the closest name by spelling
    (FACESWAP_SWAP_LANDMARK_WARP) would be the wrong one to suggest."""
    environ = {"FACESWAP_SWAP_LANDMARK_WARP_MODE": "features"}
    with caplog.at_level(logging.WARNING, logger="faceswap.settings"):
        settings = settings_from(SwapSettings, env_prefix=PREFIX, environ=environ, warn_unknown=True)
    assert settings == SwapSettings()
    [record] = caplog.records
    assert record.getMessage() == ("environment variable FACESWAP_SWAP_LANDMARK_WARP_MODE is ignored: that setting "
                                   "of SwapSettings is FACESWAP_SWAP_LANDMARK_WARP_FEATURES now (docs/merge-settings.md)")


def test_without_warn_unknown_or_with_only_known_names_nothing_is_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="faceswap.settings"):
        settings_from(SwapSettings, env_prefix=PREFIX, environ={"FACESWAP_SWAP_TYPO": "1"})
        settings_from(SwapSettings, env_prefix=PREFIX, environ={"FACESWAP_SWAP_SHARPEN": "0"}, warn_unknown=True)
    assert caplog.records == []
