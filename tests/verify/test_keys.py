"""Signing keys live outside the repository; the trust file is a validated list of public keys."""
from __future__ import annotations

import json
import stat

import pytest

from lume.runtime.core._keys import (
    KeyProblem,
    key_dir,
    load_or_create_key,
    load_trust,
    trust,
    trust_entry,
    trust_file,
)


def test_key_is_created_once_with_private_permissions(isolated_keys):
    first = load_or_create_key()
    assert first.created and first.path.parent == isolated_keys / "keys"
    assert stat.S_IMODE(first.path.stat().st_mode) == 0o600
    again = load_or_create_key()
    assert not again.created and again.keyid == first.keyid


def test_key_dir_inside_the_repository_is_refused(repo, monkeypatch):
    monkeypatch.setenv("LUME_KEY_DIR", str(repo / ".keys"))
    with pytest.raises(KeyProblem, match="inside the LUME working tree"):
        load_or_create_key()
    with pytest.raises(KeyProblem):
        load_or_create_key(repo / "fixtures" / "keys")
    assert not (repo / ".keys").exists()


def test_key_dir_from_configuration(tmp_path, monkeypatch):
    from lume.runtime.core import get

    config = dict(get("machine_config.v1").examples[1], key_dir="mykeys", trust_file="trust/t.json")
    (tmp_path / "config.json").write_text(json.dumps(config))
    monkeypatch.delenv("LUME_KEY_DIR")
    monkeypatch.setenv("LUME_CONFIG", str(tmp_path / "config.json"))
    assert key_dir() == tmp_path / "mykeys"
    assert trust_file() == tmp_path / "trust" / "t.json"


def test_invalid_configuration_is_bad_input(tmp_path, monkeypatch):
    (tmp_path / "config.json").write_text(json.dumps({"schema": "lume.machine_config.v1"}))
    monkeypatch.delenv("LUME_KEY_DIR")
    monkeypatch.setenv("LUME_CONFIG", str(tmp_path / "config.json"))
    with pytest.raises(Exception, match="machine_config.v1"):
        key_dir()


def test_trust_file_round_trip(isolated_keys):
    key = load_or_create_key()
    assert load_trust() == []
    assert trust(key.public_hex, name="k11") is True
    assert trust(key.public_hex.upper()) is False  # already trusted
    entries = load_trust()
    assert entries == [{"keyid": key.keyid, "scheme": "ed25519", "public": key.public_hex, "name": "k11"}]
    assert trust_file() == isolated_keys / "keys" / "trusted_keys.json"


@pytest.mark.parametrize("content, match", [
    ("not json", "not valid JSON"),
    ('{"keyid": 1}', "trusted_keys.v1"),
    ('[{"keyid": "%s", "scheme": "rsa", "public": "%s"}]' % ("0" * 64, "1" * 64), "trusted_keys.v1"),
    ('[{"keyid": "%s", "scheme": "ed25519", "public": "%s"}]' % ("0" * 64, "1" * 64), "SHA-256"),
])
def test_malformed_trust_file_is_bad_input(tmp_path, content, match):
    path = tmp_path / "trusted_keys.json"
    path.write_text(content)
    with pytest.raises(KeyProblem, match=match):
        load_trust(path)


@pytest.mark.parametrize("bad", ["", "zz", "ab" * 31, "ab" * 33])
def test_trusting_a_malformed_public_key_is_refused(bad):
    with pytest.raises(KeyProblem, match="Ed25519 public key"):
        trust_entry(bad)


def test_a_derived_secret_belongs_to_one_key_and_one_purpose():
    from cryptography.hazmat.primitives import serialization as s

    from lume.runtime.core import SigningKey

    key, other = SigningKey.generate(), SigningKey.generate()
    secret = key.derive("verify cache")
    assert len(secret) == 32 and secret == key.derive("verify cache")
    assert secret not in (key.derive("another purpose"), other.derive("verify cache"))
    assert secret != key.private.private_bytes(s.Encoding.Raw, s.PrivateFormat.Raw, s.NoEncryption())
