"""The WebSocket relay: browsers stream JPEG frames over ``/stream``, the relay forwards each
frame to the prediction routine and streams the merged frames back (docs/protocols.md).

Run it from this folder, exactly as deployed:

    gunicorn -b 127.0.0.1:8001 -k flask_sockets.worker --no-control-socket main:app

Modules: ``main`` (Flask app, routes), ``relay_settings`` (typed settings, RELAY_* environment),
``frame_protocol`` (binary messages), ``websocket_io`` (size-limited WebSocket reads, close codes),
``stream_session`` (one connection: receive loop + worker, latest frame wins),
``prediction_client`` (calls the routine).
"""
