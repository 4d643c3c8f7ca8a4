"""Offline conversion (the ``convert`` command): a video file to a video file with the same frame
count, frame rate and audio track, or a folder of images to a folder, every face swapped."""
