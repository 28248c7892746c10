"""`lume lumf`: LUMF audio features of a file, the 60 Hz UDP publisher, the packet inspector."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.markup import escape

from ._output import FAILED, OK, console, emit_json, fail_input

FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _contract_port() -> int:
    from lume.generated.lumf_layout import PORT  # noqa: PLC0415

    return PORT


@click.group()
def lumf() -> None:
    """LUMF audio packets (seed 004 Q1): features, 60 Hz publisher, inspector."""


@lumf.command()
@click.argument("audio", type=FILE)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write one lumf_features_record.v1 line per window (JSONL, e.g. x.lumf.jsonl).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary.")
def features(audio: Path, out: Path | None, as_json: bool) -> None:
    """Compute the LUMF features of AUDIO (WAV; OGG/FLAC with soundfile), one per 1/60 s window."""
    from rich.progress import Progress  # noqa: PLC0415

    from lume.runtime.core import write_jsonl  # noqa: PLC0415
    from lume.runtime.lumf import (  # noqa: PLC0415  # noqa: PLC0415
        AudioInputError,
        NonFiniteInput,
        file_records,  # noqa: PLC0415
        read_audio,
        window_samples,
    )

    try:
        samples, rate = read_audio(audio)
        w = window_samples(rate)
    except (AudioInputError, ValueError) as exc:
        fail_input(str(exc))
    total = len(samples) // w
    if total == 0:
        fail_input(f"{audio}: {len(samples)} samples, shorter than one {w}-sample window")
    with Progress(console=console, transient=True, disable=as_json) as progress:
        task = progress.add_task("features", total=total)
        try:
            records = list(file_records(samples, rate, on_window=lambda: progress.advance(task)))
        except NonFiniteInput as exc:
            fail_input(f"{audio}: {exc}")
    summary = _feature_summary(audio, rate, w, records)
    if out is not None:
        write_jsonl(out, records)
        summary["out"] = str(out)
    if as_json:
        emit_json(summary)
    else:
        _print_feature_summary(summary)
    raise SystemExit(OK)


def _feature_summary(audio: Path, rate: int, w: int, records: list[dict]) -> dict:
    scalars = ("rms", "centroid", "onset")
    return {
        "audio": str(audio), "sample_rate_hz": rate, "window_samples": w,
        "windows": len(records), "duration_s": len(records) * w / rate,
        "mean": {k: sum(r[k] for r in records) / len(records) for k in scalars},
        "max": {k: max(r[k] for r in records) for k in scalars},
    }


def _print_feature_summary(s: dict) -> None:
    console.print(f"{s['audio']}: {s['windows']} windows of {s['window_samples']} samples at "
                  f"{s['sample_rate_hz']} Hz ({s['duration_s']:.2f} s)"
                  + (f", written to {s['out']}" if s.get("out") else ""), highlight=False)
    for k in s["mean"]:
        console.print(f"  {k:9s} mean {s['mean'][k]:.6g}  max {s['max'][k]:.6g}", highlight=False)


@lumf.command()
@click.argument("audio", type=FILE, required=False)
@click.option("--input-device", type=int, help="Capture live from this sounddevice input device.")
@click.option("--to", "target", metavar="HOST[:PORT]",
              help="Where to send (port default: lumf_layout.v1's 9701). Default: the `lumf` "
                   "target of the machine configuration, if one is configured.")
@click.option("--heartbeat", type=click.Path(dir_okay=False, path_type=Path),
              help="Rewrite this file with the Unix time once a second (temp file + rename).")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True),
              help="Stop after S seconds (default: end of the file, or Ctrl-C).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable statistics.")
def publish(audio: Path | None, input_device: int | None, target: str | None,
            heartbeat: Path | None, duration: float | None, as_json: bool) -> None:
    """Publish one 84-byte LUMF packet per 1/60 s over UDP from AUDIO or a live input device."""
    from lume.runtime.lumf import (
        AudioInputError,
        DeviceSource,
        FileSource,
        Ring,  # noqa: PLC0415
        read_audio,
    )
    from lume.runtime.lumf import publish as run  # noqa: PLC0415

    if (audio is None) == (input_device is None):
        fail_input("give exactly one of AUDIO or --input-device N")
    try:
        host, port = _target(target)
        ring = Ring()
        if audio is not None:
            samples, rate = read_audio(audio)
            source = FileSource(samples, rate, ring)
        else:
            source = DeviceSource(input_device, ring)
        if not as_json:
            console.print(f"LUMF -> udp://{host}:{port} at 60 Hz from "
                          f"{audio if audio is not None else f'input device {input_device}'}"
                          + (f", heartbeat {heartbeat}" if heartbeat else ""), highlight=False)
        stats = run(source, ring, (host, port), heartbeat=heartbeat, duration=duration)
    except (AudioInputError, ValueError) as exc:
        fail_input(str(exc))
    except KeyboardInterrupt:
        raise SystemExit(OK) from None
    result = {"target": f"{host}:{port}", **stats.as_dict()}
    if as_json:
        emit_json(result)
    else:
        console.print("  ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                for k, v in result.items()), highlight=False)
    raise SystemExit(OK)


def _target(target: str | None) -> tuple[str, int]:
    from lume.runtime.core import (
        InputError,  # noqa: PLC0415
        load_machine_config,  # noqa: PLC0415
    )
    from lume.runtime.lumf import parse_endpoint  # noqa: PLC0415

    if target is not None:
        return parse_endpoint(target, _contract_port())
    try:
        config = load_machine_config()
    except InputError as exc:
        raise ValueError(str(exc)) from exc
    if config is None:
        raise ValueError("give --to HOST[:PORT] (no machine configuration names a LUMF target)")
    lumf_target = config["lumf"]
    return lumf_target["host"], int(lumf_target.get("port", _contract_port()))


@lumf.command()
@click.option("--listen", "listen", metavar="HOST[:PORT]", default="127.0.0.1", show_default=True,
              help="Address to bind (port default: lumf_layout.v1's 9701).")
@click.option("--count", type=click.IntRange(min=1), help="Stop after N datagrams.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True),
              help="Stop after S seconds without a datagram.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True),
              help="Stop after S seconds in all.")
@click.option("--json", "as_json", is_flag=True,
              help='One JSON object per datagram ({"valid": true, "fields": {...}} or '
                   '{"valid": false, "reason": ...}), then {"summary": {...}}.')
def inspect(listen: str, count: int | None, timeout: float | None, duration: float | None,
            as_json: bool) -> None:
    """Receive LUMF datagrams, validate each against lumf_layout.v1 and count rejects by reason.

    Exit 0 when every datagram was valid (and --count were received), 1 otherwise.
    """
    from lume.runtime.lumf import (  # noqa: PLC0415
        Tally,
        bind,
        parse_endpoint,  # noqa: PLC0415
        receive,
    )

    try:
        host, port = parse_endpoint(listen, _contract_port())
        sock = bind(host, port)
    except (ValueError, OSError) as exc:
        fail_input(f"cannot listen on {listen}: {exc}")
    tally = Tally()
    if not as_json:
        console.print(f"listening on udp://{host}:{sock.getsockname()[1]}", highlight=False)
    try:
        for result, sender in receive(sock, count=count, timeout=timeout, duration=duration,
                                      tally=tally):
            if as_json:
                sys.stdout.write(json.dumps(result) + "\n")
                sys.stdout.flush()
            else:
                _print_packet(tally.packets, result, sender)
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    summary = tally.as_dict()
    if as_json:
        sys.stdout.write(json.dumps({"summary": summary}) + "\n")
    else:
        console.print(f"{summary['packets']} datagrams, {summary['valid']} valid, "
                      f"{summary['rejected']} rejected"
                      + "".join(f"; {r}: {n}" for r, n in summary["rejected_by_reason"].items() if n),
                      highlight=False)
    short = count is not None and tally.packets < count
    ok = tally.packets > 0 and summary["rejected"] == 0 and not short
    raise SystemExit(OK if ok else FAILED)


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
