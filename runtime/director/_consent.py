"""The consent proof token: an Ed25519 signature over the quorum's payload fields.

Scheme, payload fields and their encoding come from director_ownership.v2 `quorum`: the
payload is a UTF-8 JSON object of `token_payload_fields` keyed by their dotted names, keys
sorted, no whitespace; the token is `<token_scheme>:` + unpadded base64url of the signature.
Anyone holding the server's public key can check a token against the state it came with.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lume.runtime import core

from . import _devices as dev
from . import _ownership as own
from . import _state as st

KEY_FILE = "director_ed25519.pem"
PUBLIC_KEY_FILE = "director_ed25519.pub"
# The signing key file exists but cannot be used (bad input; the message names the file).
KeyFileError = dev.DeviceListError


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
            signer = cls(dev.load_private_key(path))
        else:
            signer = cls.generate()
            if not core.save_private_key(path, signer._key):  # another server start won the race
                signer = cls(dev.load_private_key(path))
        core.write_text(folder / PUBLIC_KEY_FILE, signer.public_key_text + "\n")
        return signer

    @property
    def public_key(self) -> bytes:
        """Raw 32-byte public key."""
        return dev.raw_public(self._key)

    @property
    def public_key_text(self) -> str:
        """Raw 32-byte public key, unpadded base64url."""
        return dev.b64(self.public_key)

    def sign(self, doc: dict[str, Any]) -> str:
        return _prefix(self._rules) + dev.b64(self._key.sign(payload(doc, self._rules)))


def verify(doc: dict[str, Any], public_key: bytes | str, rules: own.Ownership | None = None) -> bool:
    """True when the document's consent token is a valid signature (strictly checked) over its
    payload fields, by `public_key` (raw bytes or unpadded base64url)."""
    token = doc["model_consent"]["token"]
    prefix = _prefix(rules)
    if not isinstance(token, str) or not token.startswith(prefix):
        return False
    try:
        key = dev.public_key_from_text(public_key) if isinstance(public_key, str) else public_key
        signature = dev.unb64(token[len(prefix):], 64)
    except (ValueError, dev.DeviceListError):
        return False
    return core.verify_ed25519(key, payload(doc, rules), signature)
