"""The per-frame swap pipeline used by offline conversion and the live prediction routine:
colour transfer, blending back into the frame, the visible "AI-generated" mark, and FrameSwapper
which runs detect -> align -> model -> blend on one BGR frame."""
