"""The consent proof token: an Ed25519 signature over the quorum's payload fields.

Scheme, payload fields and their encoding come from director_ownership.v2 `quorum`: the
payload is a UTF-8 JSON object of `token_payload_fields` keyed by their dotted names, keys
sorted, no whitespace; the token is `<token_scheme>:` + unpadded base64url of the signature.
Anyone holding the server's public key can check a token against the state it came with.
"""
from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from lume.runtime import core

from . import _ownership as own
from . import _state as st

KEY_FILE = "director_ed25519.pem"
PUBLIC_KEY_FILE = "director_ed25519.pub"


class KeyFileError(ValueError):
    """The signing key file exists but cannot be used; the message names the file."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def payload(doc: dict[str, Any], rules: own.Ownership | None = None) -> bytes:
    q = (rules or own.load()).quorum
    fields = {f: st.read(doc, f) for f in q.token_payload_fields}
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _prefix(rules: own.Ownership | None = None) -> str:
    return f"{(rules or own.load()).quorum.token_scheme}:"


class ConsentSigner:
    """Holds the server's Ed25519 key and signs consent payloads."""

    def __init__(self, key: Ed25519PrivateKey, rules: own.Ownership | None = None) -> None:
        self._key = key
        self._rules = rules or own.load()

    @classmethod
    def generate(cls) -> ConsentSigner:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, folder: Path) -> ConsentSigner:
        """The key in `folder` (created on first start, mode 0600, public key beside it)."""
        folder = Path(folder)
        path = folder / KEY_FILE
        if path.exists():
            try:
                key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            except (ValueError, TypeError, OSError) as exc:
                raise KeyFileError(f"{path}: not a usable PEM private key: {exc}") from exc
            if not isinstance(key, Ed25519PrivateKey):
                raise KeyFileError(f"{path}: not an Ed25519 key")
            signer = cls(key)
        else:
            signer = cls.generate()
            pem = signer._key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption())
            core.write_bytes(path, pem)  # mkstemp + rename: the file is created 0600
            os.chmod(path, 0o600)
        core.write_text(folder / PUBLIC_KEY_FILE, signer.public_key_text + "\n")
        return signer

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()

    @property
    def public_key_text(self) -> str:
        """Raw 32-byte public key, unpadded base64url."""
        return _b64(self.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))

    def sign(self, doc: dict[str, Any]) -> str:
        return _prefix(self._rules) + _b64(self._key.sign(payload(doc, self._rules)))


def public_key_from_text(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(_unb64(text.strip()))


def verify(doc: dict[str, Any], public_key: Ed25519PublicKey | str) -> bool:
    """True when the document's consent token is a valid signature over its payload fields."""
    token = doc["model_consent"]["token"]
    prefix = _prefix()
    if not isinstance(token, str) or not token.startswith(prefix):
        return False
    if isinstance(public_key, str):
        public_key = public_key_from_text(public_key)
    try:
        public_key.verify(_unb64(token[len(prefix):]), payload(doc))
    except (InvalidSignature, ValueError):
        return False
    return True
