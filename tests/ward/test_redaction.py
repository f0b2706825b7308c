"""ward/redaction.py: the one place a password leaves an address before it is
shown; pure."""

from __future__ import annotations

import pytest

from ward.redaction import MASK, redact, without_password


@pytest.mark.parametrize(("address", "shown"), [
    ("postgresql://vward:s3cr%40t@db:5432/vward?sslmode=require",
     f"postgresql://vward:{MASK}@db:5432/vward?sslmode=require"),
    ("postgresql://u@h/db?password=s3cret&sslmode=require",
     f"postgresql://u@h/db?password={MASK}&sslmode=require"),
    ("postgresql://u:s3cret@h1:5432,h2:5432/db", f"postgresql://u:{MASK}@h1:5432,h2:5432/db"),
    ("host=127.0.0.1 user=vward password=s3cret dbname=vward",
     f"host=127.0.0.1 user=vward password={MASK} dbname=vward"),
    ("host=h password='s3 cr\\'et' dbname=d", f"host=h password={MASK} dbname=d"),
    ("amqp://ingest:s3cret@b1:5672,amqp://b2:5672", f"amqp://ingest:{MASK}@b1:5672,amqp://b2:5672"),
    ("postgresql://vward@127.0.0.1:15432/vward", "postgresql://vward@127.0.0.1:15432/vward"),
])
def test_a_password_never_shows(address, shown):
    assert redact(address) == shown
    assert "s3" not in redact(address)


def test_addresses_compare_without_their_passwords():
    assert (without_password("postgresql://vward:pw@127.0.0.1:15432/vward")
            == "postgresql://vward@127.0.0.1:15432/vward")
    assert "pw" not in without_password("host=h password=pw dbname=d")
