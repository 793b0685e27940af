"""The correlation ids a task or page request binds (its case, its authorization) join every
line it logs, in either LOG_FORMAT: grep one case id for a customer's whole story."""

from __future__ import annotations

import json

import pytest
import structlog

from shared.logging import configure_logging


def test_log_format_json_writes_one_object_a_line_with_the_bound_case(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOG_FORMAT", "json")
    configure_logging()
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(case_id=7, authorization_id="fcauth_1")
    try:
        structlog.get_logger("test").info("email_sent", outbox_id=3)
    finally:
        structlog.contextvars.clear_contextvars()
    line = json.loads(capsys.readouterr().out.strip())
    assert line["event"] == "email_sent"
    assert (line["case_id"], line["authorization_id"], line["outbox_id"]) == (7, "fcauth_1", 3)


def test_log_format_console_writes_key_value_lines(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOG_FORMAT", "console")
    configure_logging()
    structlog.get_logger("test").info("case_opened", case_id=7)
    out = capsys.readouterr().out
    assert "case_opened" in out
    assert "case_id=7" in out
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)
