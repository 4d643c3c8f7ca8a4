"""scripts/default_model/live_page_screenshots.py finds its held-out clips in both folders of the
shared data (the whole script runs by hand: it starts the stack and a browser per clip)."""

from __future__ import annotations

import pytest

from scripts.default_model.live_page_screenshots import clip_source


def test_clips_are_found_by_name_in_either_folder_or_by_path(shared_data, tmp_path):
    assert clip_source("d12") == shared_data / "clips" / "d12.mp4"
    assert clip_source("v25") == shared_data / "faces" / "videos" / "v25.mp4"
    own = tmp_path / "mine.mp4"
    own.write_bytes(b"")
    assert clip_source(str(own)) == own
    with pytest.raises(FileNotFoundError, match="nor v99.mp4 in"):
        clip_source("v99")
