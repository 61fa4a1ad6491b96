import pytest

import config
from marketplace import create_app


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        ("YES", True),
        (" on ", True),
        ("0", False),
        ("off", False),
        ("", False),
    ],
)
def test_env_bool_accepts_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("SOME_FLAG", raw)
    assert config.env_bool("SOME_FLAG", not expected) is expected


def test_env_bool_refuses_a_typo_instead_of_reading_it_as_false(monkeypatch):
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "ture")
    with pytest.raises(ValueError, match="SESSION_COOKIE_SECURE"):
        config.env_bool("SESSION_COOKIE_SECURE", True)


def test_numbers_are_read_strictly(monkeypatch):
    monkeypatch.setenv("DB_PING_AFTER_IDLE_SECONDS", "2.5")
    assert config.env_float("DB_PING_AFTER_IDLE_SECONDS", 1) == 2.5
    monkeypatch.setenv("DB_PING_AFTER_IDLE_SECONDS", "")
    assert config.env_float("DB_PING_AFTER_IDLE_SECONDS", 1) == 1
    monkeypatch.setenv("DB_PING_AFTER_IDLE_SECONDS", "1s")
    with pytest.raises(ValueError, match="DB_PING_AFTER_IDLE_SECONDS='1s' is not a number"):
        config.env_float("DB_PING_AFTER_IDLE_SECONDS", 1)


def test_unset_environment_means_production_which_refuses_to_start_without_secrets(monkeypatch):
    monkeypatch.delenv("MARKETPLACE_ENV", raising=False)
    for name in ("SECRET_KEY", "DATABASE_URL", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert config.config_from_env() is config.ProductionConfig
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app()


def test_production_refuses_a_short_secret_key(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "short")
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_live_x")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_x")
    with pytest.raises(RuntimeError, match="at least 32"):
        create_app(config.ProductionConfig, SECRET_KEY="short")


def test_production_cookies_are_secure_and_https_is_forced():
    assert config.ProductionConfig.SESSION_COOKIE_SECURE is True
    assert config.ProductionConfig.FORCE_HTTPS is True
    assert config.Config.SESSION_COOKIE_HTTPONLY is True
    assert config.Config.SESSION_COOKIE_SAMESITE == "Lax"


def test_unknown_environment_name_is_an_error(monkeypatch):
    monkeypatch.setenv("MARKETPLACE_ENV", "staging")
    with pytest.raises(RuntimeError, match="staging"):
        config.config_from_env()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_database_urls_use_psycopg3(given, expected):
    assert config.normalise_database_url(given) == expected
