"""Director devices: their Ed25519 keys, the bus's trust list (director_devices.v1), strict checks.

- `DeviceKey`     a device's private key (unencrypted PEM, 0600); signs its identify answers
- `Device`        one enrolled device: id, role, public key
- `DeviceTrust`   a trust list in memory (inject one into `Bus` for tests and property checks)
- `DeviceFile`    the trust list in a file: re-read when it changes, enrol / revoke atomically

Every Ed25519 judgement (is this key usable, does this signature verify) and every private key
file goes through `lume.runtime.core` (strict libsodium checks, bounded `private_key` inputs).

Keys and signatures travel as unpadded base64url (`b64`, `unb64`), like the consent token.
"""
from __future__ import annotations

import base64
import binascii
import os
import re
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lume.runtime import core
from lume.runtime.core import InputError, get, problems, read_json, settled

from . import _ownership as own
from ._lock import Lock

CONTRACT = "director_devices.v1"
SCHEMA_TAG: str = get(CONTRACT).match["schema"]
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


class DeviceListError(InputError):
    """A device list, device key or public key that cannot be used; the message names it."""


# -- encoding ------------------------------------------------------------------------------
def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str, size: int) -> bytes:
    """Exactly `size` bytes from canonical unpadded base64url (ValueError otherwise)."""
    if not isinstance(text, str) or not _B64URL.match(text):
        raise ValueError("not unpadded base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:
        raise ValueError(f"not base64url: {exc}") from exc
    if len(raw) != size or b64(raw) != text:  # the last character's spare bits must be zero
        raise ValueError(f"expected {size} bytes in canonical base64url")
    return raw


# -- keys ----------------------------------------------------------------------------------
def check_public_key(raw: bytes, where: str = "public key") -> bytes:
    """`raw` if it is a usable Ed25519 public key (core.public_key_problem: 32 bytes, a canonical
    point of the prime-order subgroup, never a small-order key that lets anyone forge)."""
    problem = core.public_key_problem(raw)
    if problem is not None:
        raise DeviceListError(f"{where}: {problem}")
    return raw


def public_key_from_text(text: str, where: str = "public key") -> bytes:
    try:
        raw = unb64(text.strip(), 32)
    except ValueError as exc:
        raise DeviceListError(f"{where}: {text!r} is not a 32-byte key in unpadded base64url "
                              f"({exc})") from exc
    return check_public_key(raw, where)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """A device's or the server's key (core.load_private_key); DeviceListError naming the file."""
    try:
        return core.load_private_key(path)
    except core.InputError as exc:
        raise DeviceListError(str(exc)) from exc


def raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def identify_payload(nonce: str, role: str, device_id: str, server: str,
                     rules: own.Ownership | None = None) -> bytes:
    """The bytes a device signs to answer a challenge (director_ownership.v2 `identify`)."""
    rule = (rules or own.load()).identify
    values = {"context": rule.payload_context, "device_id": device_id, "nonce": nonce, "role": role,
              "server": server}
    return orjson.dumps({k: values[k] for k in rule.payload_fields}, option=orjson.OPT_SORT_KEYS)


@dataclass(frozen=True)
class DeviceKey:
    """A director device's private key and the device id it identifies with."""

    private: Ed25519PrivateKey
    device_id: str

    @classmethod
    def generate(cls, device_id: str) -> DeviceKey:
        return cls(Ed25519PrivateKey.generate(), device_id)

    @classmethod
    def load(cls, path: Path, device_id: str | None = None) -> DeviceKey:
        """The key in `path`; the device id defaults to the file's stem (`mac-studio.pem`)."""
        return cls(load_private_key(path), device_id or Path(path).stem)

    def save(self, path: Path) -> None:
        """Write the key (mode 0600); an existing file is never replaced."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not core.save_private_key(path, self.private):
            raise DeviceListError(f"{path}: exists already; a device key is never overwritten")

    @property
    def public_key(self) -> bytes:
        return raw_public(self.private)

    @property
    def public_key_text(self) -> str:
        return b64(self.public_key)

    def identify(self, role: str, challenge: dict[str, Any],
                 rules: own.Ownership | None = None) -> dict[str, Any]:
        """The identify frame answering a `challenge` frame as `role`."""
        nonce, server = challenge["nonce"], challenge["server"]
        signature = self.private.sign(identify_payload(nonce, role, self.device_id, server, rules))
        return {"type": "identify", "role": role, "device_id": self.device_id, "nonce": nonce,
                "signature": b64(signature)}


# -- the trust list ------------------------------------------------------------------------
@dataclass(frozen=True)
class Device:
    """One enrolled device."""

    device_id: str
    role: str
    public_key: bytes
    enrolled_at: str
    name: str | None = None

    @property
    def public_key_text(self) -> str:
        return b64(self.public_key)

    def entry(self) -> dict[str, Any]:
        out = {"device_id": self.device_id, "role": self.role, "public_key": self.public_key_text,
               "enrolled_at": self.enrolled_at}
        if self.name:
            out["name"] = self.name
        return out


class Trust(Protocol):
    """What the bus asks of a device trust list."""

    def lookup(self, device_id: str) -> Device | None: ...


class DeviceTrust:
    """Enrolled devices by id (in memory)."""

    def __init__(self, devices: Iterable[Device] = ()) -> None:
        self._by_id: dict[str, Device] = {}
        for d in devices:
            if d.device_id in self._by_id:
                raise DeviceListError(f"device {d.device_id!r} is listed twice [{CONTRACT}]")
            self._by_id[d.device_id] = d

    def lookup(self, device_id: str) -> Device | None:
        return self._by_id.get(device_id)

    def devices(self) -> list[Device]:
        return list(self._by_id.values())

    def document(self) -> dict[str, Any]:
        return {"schema": SCHEMA_TAG, "devices": [d.entry() for d in self._by_id.values()]}

    @classmethod
    def from_document(cls, doc: Any, where: str = "<devices>") -> DeviceTrust:
        found = problems(doc, get(CONTRACT), file=where)
        if found:
            raise DeviceListError(str(found[0]))
        devices = []
        for i, e in enumerate(doc["devices"]):
            key = public_key_from_text(e["public_key"], f"{where}: devices[{i}].public_key")
            devices.append(Device(e["device_id"], e["role"], key, e["enrolled_at"], e.get("name")))
        try:
            return cls(devices)
        except DeviceListError as exc:
            raise DeviceListError(f"{where}: {exc}") from exc


class DeviceFile:
    """The trust list kept in a file (absent = no device enrolled), re-read when it changes.
    Enrol and revoke change it under its lock (`lock_path`), one at a time across processes;
    each waits up to `wait_s` for the lock, then DirectorBusy names who holds it.

    "Changed" is a stat stamp; a list read less than input_limits.v1's
    `unchanged_files.settle_ms` after it changed is read again at the next command: a second
    change within the file system's timestamp granularity (a revocation right after an
    enrolment) could leave the stamp as it was, and must not leave a revoked device trusted."""

    def __init__(self, path: Path, *, wait_s: float | None = None) -> None:
        self.path = Path(path)
        # by default director_ownership.v2 identify.enroll_lock_wait_s (what `--wait` shows)
        self.wait_s = own.load().identify.enroll_lock_wait_s if wait_s is None else wait_s
        self._stamp: tuple[int, int, int, int] | None = None
        self._trust = DeviceTrust()

    def _refresh(self) -> DeviceTrust:
        read_at = time.time_ns()
        try:
            s = os.stat(self.path)  # once per command: the cheapest check that it changed
        except FileNotFoundError:
            self._stamp, self._trust = None, DeviceTrust()
            return self._trust
        except OSError as exc:
            raise DeviceListError(f"{self.path}: {exc.strerror or exc}") from exc
        if not stat.S_ISREG(s.st_mode):  # a FIFO or a device would hang or flood the reader
            raise DeviceListError(f"{self.path}: not a regular file [{CONTRACT}]")
        stamp = (s.st_mtime_ns, s.st_ctime_ns, s.st_size, s.st_ino)
        if stamp != self._stamp:
            self._trust = DeviceTrust.from_document(read_json(self.path), str(self.path))
            self._stamp = stamp if settled(s, read_at) else None
        return self._trust

    def lookup(self, device_id: str) -> Device | None:
        return self._refresh().lookup(device_id)

    def devices(self) -> list[Device]:
        return self._refresh().devices()

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def _locked(self, what: str) -> Lock:
        return Lock(self.lock_path, f"lume director {what}").acquire(
            self.wait_s, f"cannot {what}: another enrol or revoke is changing {self.path}; try again")

    def _write(self, devices: list[Device]) -> None:
        core.write_json(self.path, DeviceTrust(devices).document())

    def enroll(self, device: Device, *, replace: bool = False) -> Device | None:
        """Add `device` (its key checked); returns the entry it replaced. Refuses a device id
        already enrolled unless `replace`, and a public key enrolled under another device id."""
        check_public_key(device.public_key, f"{device.device_id}: public key")
        with self._locked("enroll"):
            return self._enroll(device, replace)

    def _enroll(self, device: Device, replace: bool) -> Device | None:
        devices = self.devices()
        old = next((d for d in devices if d.device_id == device.device_id), None)
        if old is not None and not replace:
            raise DeviceListError(f"device {device.device_id!r} is already enrolled as {old.role} in "
                                  f"{self.path}; revoke it first or enrol with --replace")
        twin = next((d for d in devices if d.public_key == device.public_key
                     and d.device_id != device.device_id), None)
        if twin is not None:
            raise DeviceListError(f"this public key is already enrolled as device {twin.device_id!r}; "
                                  f"one key per device")
        self._write([device if d.device_id == device.device_id else d for d in devices]
                    + ([] if old else [device]))
        return old

    def revoke(self, device_id: str) -> Device:
        with self._locked("revoke"):
            return self._revoke(device_id)

    def _revoke(self, device_id: str) -> Device:
        devices = self.devices()
        gone = next((d for d in devices if d.device_id == device_id), None)
        if gone is None:
            raise DeviceListError(f"device {device_id!r} is not enrolled in {self.path}")
        self._write([d for d in devices if d.device_id != device_id])
        return gone
