"""`lume keys init | trust PUBKEY | list`: the signing key and the trust file of readiness reports."""
from __future__ import annotations

from pathlib import Path

import click

from ._output import console, emit_json, fail_input


@click.group()
def keys() -> None:
    """Signing key (never inside the repository) and trusted public keys."""


@keys.command()
@click.option("--key-dir", type=click.Path(path_type=Path), default=None,
              help="Key folder (default: LUME_KEY_DIR, the configuration's key_dir, ~/.config/lume/keys).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def init(key_dir: Path | None, as_json: bool) -> None:
    """Create this machine's signing key (if absent) and print its key id and public key."""
    from lume.runtime.core import InputError, load_or_create_key, trust, trust_file

    try:
        key = load_or_create_key(key_dir)
        trusted_now = trust(key.public_hex, trust_file(key.path.parent),
                            name="local (trusted on first use)") if key.created else False
    except InputError as exc:
        fail_input(str(exc))
    if as_json:
        emit_json({"keyid": key.keyid, "public": key.public_hex, "scheme": "ed25519",
                   "path": str(key.path), "created": key.created, "trusted_now": trusted_now})
        return
    console.print(("created" if key.created else "existing") + f" signing key {key.path}", highlight=False)
    if trusted_now:
        console.print(f"trusted it on first use in {trust_file(key.path.parent)}", highlight=False)
    console.print(f"keyid  {key.keyid}\npublic {key.public_hex}", highlight=False)
    console.print(f"[dim]other machines: lume keys trust {key.public_hex}[/]", highlight=False)


@keys.command("trust")
@click.argument("pubkey")
@click.option("--name", default=None, help="Who holds the private key (free text).")
@click.option("--trust-file", "trust_path", type=click.Path(path_type=Path), default=None,
              help="Trust file (default: LUME_TRUST_FILE, the configuration's trust_file, <key dir>/trusted_keys.json).")
def trust_(pubkey: str, name: str | None, trust_path: Path | None) -> None:
    """Add an Ed25519 public key (64 hex digits) to the trust file."""
    from lume.runtime.core import InputError, trust, trust_entry, trust_file

    try:
        path = trust_path or trust_file()
        added = trust(pubkey, path, name=name)
        keyid = trust_entry(pubkey)["keyid"]
    except InputError as exc:
        fail_input(str(exc))
    console.print(("trusted" if added else "already trusted") + f" {keyid} in {path}", highlight=False)


@keys.command("list")
@click.option("--trust-file", "trust_path", type=click.Path(path_type=Path), default=None)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_(trust_path: Path | None, as_json: bool) -> None:
    """Show the trusted keys (and which one is this machine's signing key)."""
    from lume.runtime.core import (
        PRIVATE_NAME,
        InputError,
        key_dir,
        load_or_create_key,
        load_trust,
        trust_file,
    )

    try:
        path = trust_path or trust_file()
        entries = load_trust(path)
        folder = key_dir()
        own = load_or_create_key(folder).keyid if (folder / PRIVATE_NAME).exists() else None
    except InputError as exc:
        fail_input(str(exc))
    if as_json:
        emit_json({"trust_file": str(path), "local_keyid": own, "trusted": entries})
        return
    console.print(f"trust file {path}: {len(entries)} key(s)", highlight=False)
    for e in entries:
        mark = "  (this machine)" if e["keyid"] == own else ""
        console.print(f"  {e['keyid']}  {e['public']}  {e.get('name', '')}{mark}", highlight=False)
    if own and own not in {e["keyid"] for e in entries}:
        console.print(f"[yellow]this machine's key {own} is not trusted here[/]", highlight=False)
