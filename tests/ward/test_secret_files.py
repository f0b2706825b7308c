"""Generated secrets: made once, kept, owner-only."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor

import pytest

from ward import secret_files


def test_a_secret_is_made_once_and_kept_owner_only(tmp_path):
    first = secret_files.secret(tmp_path, "postgres")
    assert len(first) >= 32
    assert secret_files.secret(tmp_path, "postgres") == first
    assert secret_files.existing_secret(tmp_path, "postgres") == first
    path = secret_files.secret_path(tmp_path, "postgres")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert secret_files.secret(tmp_path, "other") != first


def test_processes_starting_at_once_agree_on_one_secret(tmp_path):
    with ThreadPoolExecutor(8) as pool:
        values = set(pool.map(lambda _: secret_files.secret(tmp_path, "broker-ingest"), range(32)))
    assert len(values) == 1
    assert [p.name for p in secret_files.secrets_dir(tmp_path).iterdir()] == ["broker-ingest"]


def test_an_absent_secret_is_not_made_by_asking_whether_it_exists(tmp_path):
    assert secret_files.existing_secret(tmp_path, "web") is None
    assert not secret_files.secrets_dir(tmp_path).exists()


@pytest.mark.parametrize("name", ["", "../etc", "Upper", "a/b", "x y"])
def test_a_secret_name_is_a_plain_word(tmp_path, name):
    with pytest.raises(ValueError, match="secret name"):
        secret_files.secret_path(tmp_path, name)
