"""Names deprecated in 1.1.0 (moved to the services' edge, `chat_http`) still work and warn until 2.0.0."""

import importlib
import logging
import sys

import pytest

from chat_core.errors import AuthenticationError


def test_importing_chat_core_auth_warns_and_still_verifies() -> None:
    sys.modules.pop("chat_core.auth", None)
    with pytest.warns(DeprecationWarning, match="chat_http.auth"):
        auth = importlib.import_module("chat_core.auth")
    secret = "s" * 48
    token = auth.mint_dev_token(secret, user_id="alice", email="alice@example.com")
    assert auth.DevTokenVerifier(secret).verify(token).user_id == "alice"
    with pytest.raises(AuthenticationError):
        auth.DevTokenVerifier(secret).verify(token + "x")


def test_configure_logging_warns_and_still_configures(capsys: pytest.CaptureFixture[str]) -> None:
    from chat_core.logs import configure_logging

    with pytest.warns(DeprecationWarning, match="chat_http.logs"):
        configure_logging("INFO", json_lines=False, service="old")
    try:
        logging.getLogger("x").info("still works")
    finally:
        logging.getLogger().handlers.clear()
    assert "old INFO x: still works" in capsys.readouterr().err
