import json
import logging

import pytest

from chat_core.logs import request_id_var
from chat_http.logs import configure_logging


def test_json_lines_carry_the_request_id_and_extras(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json_lines=True, service="test")
    token = request_id_var.set("req-1")
    try:
        logging.getLogger("chat_core.test").info("hello %s", "world", extra={"durationMs": 1.5})
    finally:
        request_id_var.reset(token)
        logging.getLogger().handlers.clear()
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["message"] == "hello world"
    assert line["requestId"] == "req-1"
    assert line["durationMs"] == 1.5
    assert line["level"] == "INFO"


def test_exceptions_are_included(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json_lines=True, service="test")
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("chat_core.test").exception("failed")
    finally:
        logging.getLogger().handlers.clear()
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert "ValueError: boom" in line["exception"]


def test_plain_text_mode(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("DEBUG", json_lines=False, service="svc")
    try:
        logging.getLogger("x").debug("plain")
    finally:
        logging.getLogger().handlers.clear()
    assert "svc DEBUG x: plain" in capsys.readouterr().err
