"""User-facing errors.

Every failure a user can cause (a bad file, an empty folder, a corrupt model directory, a
checkpoint from another config) raises a FaceswapError subclass with one clear sentence that
names the file and what is wrong. The command line prints that sentence without a traceback.
"""


class FaceswapError(Exception):
    """An error with a message meant for the user, not a programming error."""


class InputError(FaceswapError):
    """An input (image bytes, video file, folder) cannot be used."""


class ModelDirectoryError(FaceswapError):
    """An exported model directory is missing files or holds corrupt ones."""


class CheckpointError(FaceswapError):
    """A training checkpoint cannot be used (corrupt, or made for a different config)."""


def exit_status(action) -> int:
    """Run ``action()`` for a command line: 0 when it returns, 2 after printing a FaceswapError as one
    ``error: ...`` line on stderr (no traceback). Other exceptions propagate (they are bugs)."""
    import sys

    try:
        action()
    except FaceswapError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
