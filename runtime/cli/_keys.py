"""`lume keys init | trust PUBKEY | list`: the signing key and the trust file of readiness reports."""
from __future__ import annotations

from pathlib import Path

import click

from ._errors import LumeGroup
from ._options import json_option
from ._output import OK, console, emit_json, escape

TRUST_FILE_HELP = ("Trust file (default: LUME_TRUST_FILE, the configuration's trust_file, "
                   "<key dir>/trusted_keys.json).")


def trust_file_option(fn):
    return click.option("--trust-file", "trust_path", type=click.Path(path_type=Path), default=None,
                        help=TRUST_FILE_HELP)(fn)


@click.group(cls=LumeGroup)
def keys() -> None:
    """Signing key (never inside the repository) and trusted public keys."""


@keys.command()
@click.option("--key-dir", type=click.Path(path_type=Path), default=None,
              help="Key folder (default: LUME_KEY_DIR, the configuration's key_dir, ~/.config/lume/keys).")
@json_option
def init(key_dir: Path | None, as_json: bool) -> int:
    """Create this machine's signing key (if absent) and print its key id and public key."""
    from lume.runtime.core import load_or_create_key, trust, trust_file

    key = load_or_create_key(key_dir)
    trusted_now = trust(key.public_hex, trust_file(key.path.parent),
                        name="local (trusted on first use)") if key.created else False
    if as_json:
        emit_json({"keyid": key.keyid, "public": key.public_hex, "scheme": "ed25519",
                   "path": str(key.path), "created": key.created, "trusted_now": trusted_now})
        return OK
    console.print(("created" if key.created else "existing") + f" signing key {escape(str(key.path))}",
                  highlight=False)
    if trusted_now:
        console.print(f"trusted it on first use in {escape(str(trust_file(key.path.parent)))}",
                      highlight=False)
    console.print(f"keyid  {key.keyid}\npublic {key.public_hex}", highlight=False)
    console.print(f"[dim]other machines: lume keys trust {key.public_hex}[/]", highlight=False)
    return OK


@keys.command("trust")
@click.argument("pubkey")
@click.option("--name", default=None, help="Who holds the private key (free text).")
@trust_file_option
@json_option
def trust_(pubkey: str, name: str | None, trust_path: Path | None, as_json: bool) -> int:
    """Add an Ed25519 public key (64 hex digits) to the trust file."""
    from lume.runtime.core import trust, trust_entry, trust_file

    path = trust_path or trust_file()
    added = trust(pubkey, path, name=name)
    keyid = trust_entry(pubkey)["keyid"]
    if as_json:
        emit_json({"keyid": keyid, "trust_file": str(path), "added": added})
        return OK
    console.print(("trusted" if added else "already trusted") + f" {keyid} in {escape(str(path))}",
                  highlight=False)
    return OK


@keys.command("list")
@trust_file_option
@json_option
def list_(trust_path: Path | None, as_json: bool) -> int:
    """Show the trusted keys (and which one is this machine's signing key)."""
    from lume.runtime.core import PRIVATE_NAME, key_dir, load_or_create_key, load_trust, trust_file

    path = trust_path or trust_file()
    entries = load_trust(path)
    folder = key_dir()
    own = load_or_create_key(folder).keyid if (folder / PRIVATE_NAME).exists() else None
    if as_json:
        emit_json({"trust_file": str(path), "local_keyid": own, "trusted": entries})
        return OK
    console.print(f"trust file {escape(str(path))}: {len(entries)} key(s)", highlight=False)
    for e in entries:  # labelled lines: two 64-hex strings side by side do not fit 80 columns
        mark = " (this machine)" if e["keyid"] == own else ""
        console.print(f"  keyid  {e['keyid']}\n  public {e['public']}\n"
                      f"  name   {escape(e.get('name') or '-')}{mark}", highlight=False)
    if own and own not in {e["keyid"] for e in entries}:
        console.print(f"[yellow]this machine's key {own} is not trusted here[/]", highlight=False)
    return OK
