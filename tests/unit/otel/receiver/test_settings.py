"""Settings: environment first, flags over it, bad values named."""

from __future__ import annotations

import pytest

from otel.receiver.settings import DEFAULT_PORT, SettingsError, load_settings


def test_defaults() -> None:
    settings = load_settings([], {})
    assert (settings.receiver_host, settings.receiver_port) == ("127.0.0.1", DEFAULT_PORT) == ("127.0.0.1", 4318)
    assert settings.receiver_jsonl is None and settings.receiver_durable is False
    assert settings.receiver_max_body_bytes == 64 * 1024 * 1024


def test_flags_override_the_environment() -> None:
    env = {"PP_RECEIVER_PORT": "9000", "PP_RECEIVER_STORE": "/env.sqlite3", "PP_LOG_LEVEL": "DEBUG", "PP_OTHER": "x"}
    settings = load_settings(["--port", "9001", "--jsonl", "/tmp/lines", "--durable"], env)
    assert settings.receiver_port == 9001
    assert settings.receiver_store == "/env.sqlite3"
    assert settings.receiver_jsonl == "/tmp/lines"
    assert settings.receiver_durable is True
    assert settings.log_level == "DEBUG"


def test_bad_values_are_refused() -> None:
    with pytest.raises(SettingsError, match="receiver_port"):
        load_settings([], {"PP_RECEIVER_PORT": "http"})
