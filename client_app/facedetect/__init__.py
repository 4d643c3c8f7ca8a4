"""The webcam page of the face-swap service: a Django app that serves one HTML page plus its
static CSS/JS. The browser talks to the relay (websocket_server/) directly; Django stores nothing.
"""
