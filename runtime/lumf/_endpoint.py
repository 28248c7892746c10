"""HOST:PORT arguments for the UDP tools (`[::1]:9701`, `mac4.local:9701`, or a bare host)."""
from __future__ import annotations


def parse_endpoint(text: str, default_port: int) -> tuple[str, int]:
    """(host, port) from `HOST[:PORT]`; the port defaults to the contract's. ValueError if bad."""
    text = text.strip()
    host, port = text, str(default_port)
    if text.startswith("["):  # [IPv6]:port
        close = text.find("]")
        if close < 0:
            raise ValueError(f"{text!r}: unclosed '[' in an IPv6 address")
        host, rest = text[1:close], text[close + 1:]
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"{text!r}: expected ':PORT' after ']'")
            port = rest[1:]
    elif text.count(":") == 1:
        host, port = text.split(":")
    if not host:
        raise ValueError(f"{text!r}: no host (use HOST:PORT, e.g. 127.0.0.1:{default_port})")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{text!r}: port {port!r} is not a number in 0..65535")
    return host, int(port)
