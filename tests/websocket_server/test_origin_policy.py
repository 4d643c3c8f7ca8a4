"""Origin allow-list: scheme, host and port compared, wildcard port, missing Origin."""

from __future__ import annotations

import pytest

from websocket_server.origin_policy import OriginPolicy
from websocket_server.relay_settings import RelaySettings

DEFAULT = OriginPolicy(RelaySettings().allowed_origins, allow_missing_origin=True)


@pytest.mark.parametrize("origin", ["http://127.0.0.1:8000", "http://localhost:8000", "http://localhost",
                                    "HTTP://LOCALHOST:3000", None, ""])
def test_default_policy_allows_local_pages_and_non_browser_clients(origin):
    assert DEFAULT.allows(origin)


@pytest.mark.parametrize("origin", ["https://evil.example", "http://localhost.evil.example:8000",
                                    "https://localhost:8000", "http://127.0.0.2:8000", "null",
                                    "http://localhost:8000/path", "http://user@localhost:8000", "not an origin",
                                    "http://localhost:99999"])
def test_default_policy_refuses_everything_else(origin):
    assert not DEFAULT.allows(origin)


def test_exact_origins_match_default_ports_and_nothing_else():
    policy = OriginPolicy(["https://faceswap.example.com"], allow_missing_origin=False)
    assert policy.allows("https://faceswap.example.com")
    assert policy.allows("https://faceswap.example.com:443")
    assert not policy.allows("https://faceswap.example.com:8443")
    assert not policy.allows("http://faceswap.example.com")
    assert not policy.allows(None)


def test_star_allows_every_origin():
    assert OriginPolicy(["*"], allow_missing_origin=False).allows("https://anything.example")
