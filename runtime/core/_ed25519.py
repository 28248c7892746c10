"""Strict Ed25519: the one place a signature or a public key is judged (libsodium via PyNaCl).

RFC 8032 leaves room that plain verifiers use: a small-order public key (the identity point
`01 00…00` and its seven friends) makes `R = identity, S = 0` a valid signature over ANY
message, and non-canonical encodings let one signature take several forms. libsodium's
`crypto_sign_open` refuses small-order and non-canonical public keys, small-order R and
non-canonical S; `crypto_core_ed25519_is_valid_point` tells whether a key is a canonical
point of the main subgroup. Keys are judged when they are trusted (`lume keys trust`, the
trust-file loader) and again at every verification, so a trust file edited by hand cannot
smuggle one in. Signing stays with `cryptography` (a private key makes only valid signatures).
"""
from __future__ import annotations

from nacl.bindings import crypto_core_ed25519_is_valid_point, crypto_sign_open
from nacl.exceptions import BadSignatureError, CryptoError

PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64


def public_key_problem(public: bytes) -> str | None:
    """Why `public` cannot be a trusted Ed25519 key (wrong length, not a canonical point of the
    prime-order subgroup, small order), or None when it can."""
    if not isinstance(public, (bytes, bytearray)) or len(public) != PUBLIC_KEY_BYTES:
        return f"an Ed25519 public key is {PUBLIC_KEY_BYTES} bytes"
    if not crypto_core_ed25519_is_valid_point(bytes(public)):
        return ("not a valid Ed25519 public key: a small-order or non-canonical point "
                "(such a key lets anyone forge signatures)")
    return None


def verify_ed25519(public: bytes, message: bytes, signature: bytes) -> bool:
    """Whether `signature` is a strict Ed25519 signature of `message` by `public`.

    False (never an exception) for a wrong length, a small-order or non-canonical key, a
    small-order R, a non-canonical S, or a signature that does not verify. Every Ed25519
    check of LUME (readiness and completion reports, dry-run reports, promoted manifests,
    director consent tokens) goes through here.
    """
    if public_key_problem(public) is not None:
        return False
    if not isinstance(signature, (bytes, bytearray)) or len(signature) != SIGNATURE_BYTES:
        return False
    try:
        crypto_sign_open(bytes(signature) + bytes(message), bytes(public))
    except (BadSignatureError, CryptoError, ValueError, TypeError):
        return False
    return True
