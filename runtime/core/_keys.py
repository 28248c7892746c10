"""Ed25519 signing keys for readiness reports, and the trust file of accepted public keys.

The key folder comes from `LUME_KEY_DIR`, else the machine configuration (`key_dir`), else
`~/.config/lume/keys`; it is never inside this project's working tree (a key committed by
accident would let anyone sign a green report). The trust file (lume:contract:trusted_keys:v1)
comes from `LUME_TRUST_FILE`, else the configuration (`trust_file`), else
`<key dir>/trusted_keys.json`. A key id is the hex SHA-256 of the 32 raw public key bytes.
Signing is `cryptography`'s Ed25519 through securesystemslib's signer; keys and signatures are
judged strictly by libsodium (`_ed25519`): a small-order or non-canonical key is never trusted.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from securesystemslib.signer import CryptoSigner, SSlibKey

from lume.generated.constants import INPUT_PRIVATE_KEY, INPUT_TRUST_FILE

from ._atomic import SECRET, publish_once, write_json
from ._config import config_dir_path, config_home, load_machine_config
from ._ed25519 import public_key_problem
from ._files import read_input
from ._jsonl import InputError, read_json

KEY_DIR_ENV = "LUME_KEY_DIR"
TRUST_FILE_ENV = "LUME_TRUST_FILE"
PRIVATE_NAME = "readiness_ed25519.pem"
PUBLIC_NAME = "readiness_ed25519.pub"
TRUST_NAME = "trusted_keys.json"
SCHEME = "ed25519"


class KeyProblem(InputError):
    """A key folder, key file or trust file is unusable (bad input: exit 2)."""


def keyid_of(public: bytes) -> str:
    return hashlib.sha256(public).hexdigest()


def _raw_public(pub: Ed25519PublicKey) -> bytes:
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class SigningKey:
    """A private Ed25519 key with its public half and key id."""

    private: Ed25519PrivateKey = field(repr=False)
    path: Path | None = None
    created: bool = False  # True when load_or_create_key made it just now

    @classmethod
    def generate(cls) -> "SigningKey":
        """A fresh in-memory key (tests, throwaway signing)."""
        return cls(Ed25519PrivateKey.generate())

    @property
    def public_bytes(self) -> bytes:
        return _raw_public(self.private.public_key())

    @property
    def public_hex(self) -> str:
        return self.public_bytes.hex()

    @property
    def keyid(self) -> str:
        return keyid_of(self.public_bytes)

    def trust_entry(self, name: str | None = None) -> dict[str, Any]:
        return trust_entry(self.public_hex, name)

    def sslib_key(self) -> SSlibKey:
        return sslib_key(self.trust_entry())

    def signer(self) -> CryptoSigner:
        return CryptoSigner(self.private, self.sslib_key())

    def derive(self, purpose: str) -> bytes:
        """A 32-byte secret for one purpose, derived from this private key (HKDF-SHA256, RFC
        5869, `purpose` as its info): only a holder of the key can make it, and it is a key of
        its own, never the signing key reused for another primitive."""
        seed = self.private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                          serialization.NoEncryption())
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                    info=f"lume {purpose}".encode("utf-8")).derive(seed)


def sslib_key(entry: dict[str, Any]) -> SSlibKey:
    """A securesystemslib public key object for a trust-file entry (our key id, not theirs)."""
    return SSlibKey(entry["keyid"], "ed25519", SCHEME, {"public": entry["public"]})


def trust_entry(pubkey_hex: str, name: str | None = None) -> dict[str, Any]:
    """The trust-file entry of a public key given as 64 hex digits (raises KeyProblem)."""
    text = pubkey_hex.strip().lower()
    try:
        raw = bytes.fromhex(text)
        Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise KeyProblem(f"not an Ed25519 public key (64 hex digits): {pubkey_hex!r}") from exc
    problem = public_key_problem(raw)
    if problem is not None:
        raise KeyProblem(f"refusing to trust {text}: {problem}")
    entry: dict[str, Any] = {"keyid": keyid_of(raw), "scheme": SCHEME, "public": text}
    if name:
        entry["name"] = name
    return entry


# --- locations ---------------------------------------------------------------------------

def project_root_containing(path: Path) -> Path | None:
    """The LUME project working tree that `path` lies in (a clone or source tree), or None."""
    p = path.expanduser().resolve()
    for folder in (p, *p.parents):
        if (folder / "contracts" / "readiness_report.v1.yaml").is_file() and (
            (folder / ".git").exists() or (folder / "pyproject.toml").is_file()
        ):
            return folder
    return None


def _refuse_in_repository(key_dir: Path) -> Path:
    repo = project_root_containing(key_dir)
    if repo is not None:
        raise KeyProblem(
            f"key folder {key_dir} is inside the LUME working tree {repo}: signing keys are never "
            f"kept in the repository; set {KEY_DIR_ENV} or `key_dir` in the configuration "
            f"to a folder outside it"
        )
    return key_dir


def key_dir(override: Path | None = None) -> Path:
    if override is not None:
        return _refuse_in_repository(Path(override).expanduser())
    named = os.environ.get(KEY_DIR_ENV)
    if named:
        return _refuse_in_repository(Path(named).expanduser())
    config = load_machine_config()
    if config:
        return _refuse_in_repository(config_dir_path(config["key_dir"]))
    return _refuse_in_repository(config_home() / "keys")


def trust_file(key_folder: Path | None = None) -> Path:
    named = os.environ.get(TRUST_FILE_ENV)
    if named:
        return Path(named).expanduser()
    if key_folder is None:
        config = load_machine_config()
        if config and not os.environ.get(KEY_DIR_ENV):
            return config_dir_path(config["trust_file"])
    return (key_folder or key_dir()) / TRUST_NAME


# --- the private key ---------------------------------------------------------------------

def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The unencrypted PEM Ed25519 private key in `path`, read as a bounded `private_key` input
    (input_limits.v1: a regular file, never a FIFO or /dev/zero); KeyProblem naming the file."""
    try:
        data = read_input(path, INPUT_PRIVATE_KEY)
    except InputError as exc:
        raise KeyProblem(str(exc)) from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyProblem(f"{path}: not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyProblem(f"{path}: the key must be Ed25519, found {type(key).__name__}")
    return key


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def save_private_key(path: Path, key: Ed25519PrivateKey) -> bool:
    """Create `path` holding `key`, mode 0600 from its first byte; False (and the file left as
    it was) when it exists already: a private key is never overwritten."""
    return publish_once(Path(path), private_pem(key), mode=SECRET)


def _load(path: Path) -> SigningKey:
    return SigningKey(load_private_key(path), path)


def load_or_create_key(key_dir_path: Path | None = None) -> SigningKey:
    """This machine's signing key; generated (mode 0600) on first use. `.created` says which."""
    folder = key_dir(key_dir_path)
    private = folder / PRIVATE_NAME
    if private.exists():
        return _load(private)
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise KeyProblem(f"{folder}: cannot create the key folder: {exc.strerror or exc}") from exc
    fresh = SigningKey.generate()
    if not save_private_key(private, fresh.private):  # someone else created it meanwhile: use theirs
        return _load(private)
    key = SigningKey(fresh.private, private, created=True)
    (folder / PUBLIC_NAME).write_text(key.public_hex + "\n", encoding="utf-8")
    return key


# --- the trust file ----------------------------------------------------------------------

def load_trust(path: Path | None = None) -> list[dict[str, Any]]:
    """The trusted keys (empty when the file does not exist). Raises KeyProblem when malformed."""
    path = path or trust_file()
    if not os.path.lexists(path):
        return []
    try:
        doc = read_json(path, INPUT_TRUST_FILE)
    except InputError as exc:
        raise KeyProblem(str(exc)) from exc
    from ._contracts import get
    from ._validate import problems

    found = problems(doc, get("trusted_keys.v1"), file=str(path))
    if found:
        raise KeyProblem("; ".join(str(p) for p in found))
    for i, entry in enumerate(doc):
        raw = bytes.fromhex(entry["public"])
        if keyid_of(raw) != entry["keyid"]:
            raise KeyProblem(f"{path}: $[{i}].keyid is not the SHA-256 of its public key "
                            f"[trusted_keys.v1]")
        problem = public_key_problem(raw)
        if problem is not None:
            raise KeyProblem(f"{path}: $[{i}].public: {problem} [trusted_keys.v1]")
    return doc


def trust(pubkey_hex: str, path: Path | None = None, *, name: str | None = None) -> bool:
    """Add a public key to the trust file. Returns False when it was already trusted."""
    path = path or trust_file()
    entries = load_trust(path)
    entry = trust_entry(pubkey_hex, name)
    if any(e["keyid"] == entry["keyid"] for e in entries):
        return False
    write_json(path, [*entries, entry])
    return True
