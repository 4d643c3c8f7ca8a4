"""Flask-Sockets 0.2.1 made to work with Werkzeug >= 2.

Flask-Sockets registers its URL rules as plain HTTP rules. Since Werkzeug 2.0 a WebSocket
upgrade request only matches rules created with ``websocket=True``; otherwise ``match()`` raises
``WebsocketMismatch`` and every handshake fails (heroku-python/flask-sockets issue #81, fix proposed in PR #82).
``WebSocketSockets`` registers its rules with ``websocket=True`` and replaces the middleware so
that a plain HTTP request to a WebSocket URL gets a clear 400 instead of an exception; every
other request goes on to the Flask app.
"""

from __future__ import annotations

from flask_sockets import Sockets
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.routing.exceptions import WebsocketMismatch
from werkzeug.routing import Rule


class WebSocketRoutingMiddleware:
    """WSGI middleware: WebSocket URLs go to their Sockets handler, the rest to the Flask app."""

    def __init__(self, wsgi_app, app, sockets: "WebSocketSockets"):
        self.wsgi_app = wsgi_app
        self.app = app
        self.sockets = sockets

    def __call__(self, environ, start_response):
        adapter = self.sockets.url_map.bind_to_environ(environ)
        try:
            handler, values = adapter.match()
        except WebsocketMismatch:  # a plain HTTP request to a WebSocket URL
            return BadRequest("this URL only accepts WebSocket connections")(environ, start_response)
        except HTTPException:  # not a WebSocket URL (NotFound, ...): the Flask app decides
            return self.wsgi_app(environ, start_response)
        websocket = environ.get("wsgi.websocket")
        if websocket is None:
            return BadRequest("the WebSocket handshake was not completed")(environ, start_response)
        with self.app.app_context():
            with self.app.request_context(environ):
                handler(websocket, **values)
        return []


class WebSocketSockets(Sockets):
    """``flask_sockets.Sockets`` whose rules are WebSocket rules (``Rule(..., websocket=True)``)."""

    def init_app(self, app):
        app.wsgi_app = WebSocketRoutingMiddleware(app.wsgi_app, app, self)

    def add_url_rule(self, rule, _, f, **options):
        self.url_map.add(Rule(rule, endpoint=f, websocket=True))
