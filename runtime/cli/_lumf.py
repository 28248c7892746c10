"""`lume lumf`: LUMF audio features of a file, the 60 Hz UDP publisher, the packet inspector."""
from __future__ import annotations

from pathlib import Path

import click

from ._errors import BadInput, LumeGroup
from ._options import AddressType, Duration, address_option, json_option, out_option
from ._output import FAILED, OK, console, emit_json, emit_jsonl, escape, progress

FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _contract_port() -> int:
    from lume.generated.lumf_layout import PORT

    return PORT


@click.group(cls=LumeGroup)
def lumf() -> None:
    """LUMF audio packets: features, 60 Hz publisher, inspector."""


@lumf.command()
@click.argument("audio", type=FILE)
@out_option("Write one lumf_features_record.v1 line per window (JSONL, e.g. x.lumf.jsonl).")
@json_option
def features(audio: Path, out: Path | None, as_json: bool) -> int:
    """Compute the LUMF features of AUDIO, one per 1/60 s window.

    WAV needs nothing more; OGG / FLAC need the audio extra (pip install 'lume[audio]').
    """
    from lume.runtime.core import write_jsonl
    from lume.runtime.lumf import file_records, read_audio, window_samples

    samples, rate = read_audio(audio)  # AudioInputError: exit 2; no soundfile: names the extra
    try:
        w = window_samples(rate)
    except ValueError as exc:
        raise BadInput(str(exc)) from exc
    total = len(samples) // w
    if total == 0:
        raise BadInput(f"{audio}: {len(samples)} samples, shorter than one {w}-sample window")
    with progress(enabled=not as_json) as bar:
        task = bar.add_task("features", total=total)
        try:
            records = list(file_records(samples, rate, on_window=lambda: bar.advance(task)))
        except ValueError as exc:  # NonFiniteInput names the window
            raise BadInput(f"{audio}: {exc}") from exc
    summary = _feature_summary(audio, rate, w, records)
    if out is not None:
        write_jsonl(out, records)
        summary["out"] = str(out)
    if as_json:
        emit_json(summary)
    else:
        _print_feature_summary(summary)
    return OK


def _feature_summary(audio: Path, rate: int, w: int, records: list[dict]) -> dict:
    scalars = ("rms", "centroid", "onset")
    return {
        "audio": str(audio), "sample_rate_hz": rate, "window_samples": w,
        "windows": len(records), "duration_s": len(records) * w / rate,
        "mean": {k: sum(r[k] for r in records) / len(records) for k in scalars},
        "max": {k: max(r[k] for r in records) for k in scalars},
    }


def _print_feature_summary(s: dict) -> None:
    console.print(f"{escape(s['audio'])}: {s['windows']} windows of {s['window_samples']} samples at "
                  f"{s['sample_rate_hz']} Hz ({s['duration_s']:.2f} s)"
                  + (f", written to {escape(s['out'])}" if s.get("out") else ""), highlight=False)
    for k in s["mean"]:
        console.print(f"  {k:9s} mean {s['mean'][k]:.6g}  max {s['max'][k]:.6g}", highlight=False)


@lumf.command()
@click.argument("audio", type=FILE, required=False)
@click.option("--input-device", type=int, metavar="N",
              help="Capture live from this sounddevice input device (needs the audio extra).")
@address_option(help="Where to send; the port defaults to lumf_layout.v1's 9701. Default: the "
                     "`lumf` target of the machine configuration, if one is configured.",
                type=AddressType(default_port=_contract_port), old=("--to",))
@click.option("--heartbeat", type=click.Path(dir_okay=False, path_type=Path),
              help="Rewrite this file with the Unix time once a second (temp file + rename).")
@click.option("--duration", type=Duration(positive=True),
              help="Stop after this long, e.g. 90s (default: end of the file, or Ctrl-C).")
@json_option
def publish(audio: Path | None, input_device: int | None, address, heartbeat: Path | None,
            duration: float | None, as_json: bool) -> int:
    """Publish one 84-byte LUMF packet per 1/60 s over UDP from AUDIO or a live input device."""
    from lume.runtime.lumf import DeviceSource, FileSource, Ring, configured_target, read_audio
    from lume.runtime.lumf import publish as run

    if (audio is None) == (input_device is None):
        raise BadInput("give exactly one of AUDIO or --input-device N")
    host, port = (address.host, address.port) if address else configured_target(_contract_port())
    ring = Ring()
    if audio is not None:
        samples, rate = read_audio(audio)
        source = FileSource(samples, rate, ring)
    else:
        source = DeviceSource(input_device, ring)
    if not as_json:
        console.print(f"LUMF -> udp://{host}:{port} at 60 Hz from "
                      f"{escape(str(audio)) if audio is not None else f'input device {input_device}'}"
                      + (f", heartbeat {escape(str(heartbeat))}" if heartbeat else ""), highlight=False)
    try:
        stats = run(source, ring, (host, port), heartbeat=heartbeat, duration=duration)
    except ValueError as exc:  # the heartbeat file cannot be written
        raise BadInput(str(exc)) from exc
    except KeyboardInterrupt:
        return OK
    result = {"target": f"{host}:{port}", **stats.as_dict()}
    if as_json:
        emit_json(result)
    else:
        console.print("  ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                for k, v in result.items()), highlight=False)
    return OK


@lumf.command()
@address_option(help="Address to bind; the port defaults to lumf_layout.v1's 9701.",
                type=AddressType(default_port=_contract_port), default="127.0.0.1", old=("--listen",))
@click.option("--count", type=click.IntRange(min=1), help="Stop after N datagrams.")
@click.option("--timeout", type=Duration(positive=True),
              help="Stop after this long without a datagram, e.g. 10s.")
@click.option("--duration", type=Duration(positive=True), help="Stop after this long in all, e.g. 1m.")
@json_option
def inspect(address, count: int | None, timeout: float | None, duration: float | None,
            as_json: bool) -> int:
    """Receive LUMF datagrams, validate each against lumf_layout.v1 and count rejects by reason.

    With --json: one object per datagram ({"valid": true, "fields": {...}} or {"valid": false,
    "reason": ...}), then {"summary": {...}}. Exit 0 when every datagram was valid (and --count
    were received), 1 otherwise.
    """
    from lume.runtime.lumf import Tally, bind, receive

    try:
        sock = bind(address.host, address.port)
    except OSError as exc:
        raise BadInput(f"cannot listen on {address.hostport}: {exc.strerror or exc}") from exc
    tally = Tally()
    if not as_json:
        console.print(f"listening on udp://{address.host}:{sock.getsockname()[1]}", highlight=False)
    try:
        for result, sender in receive(sock, count=count, timeout=timeout, duration=duration,
                                      tally=tally):
            if as_json:
                emit_jsonl(result)
            else:
                _print_packet(tally.packets, result, sender)
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    summary = tally.as_dict()
    if as_json:
        emit_jsonl({"summary": summary})
    else:
        console.print(f"{summary['packets']} datagrams, {summary['valid']} valid, "
                      f"{summary['rejected']} rejected"
                      + "".join(f"; {r}: {n}" for r, n in summary["rejected_by_reason"].items() if n),
                      highlight=False)
    short = count is not None and tally.packets < count
    ok = tally.packets > 0 and summary["rejected"] == 0 and not short
    return OK if ok else FAILED


def _print_packet(n: int, result: dict, sender: tuple) -> None:
    if result["valid"]:
        f = result["fields"]
        text = "  ".join(
            f"{k} " + (" ".join(f"{x:.4g}" for x in v) if isinstance(v, list) else f"{v:.4g}")
            for k, v in f.items())
        console.print(f"#{n} {text}", highlight=False)
    else:
        console.print(f"#{n} [bold red]rejected[/] {result['reason']}"
                      + (" " + escape(f"[{result['field']}]") if result.get("field") else "")
                      + f": {escape(result['detail'])}  from {sender[0]}:{sender[1]}",
                      highlight=False)
