"""The AirDeck safety gate: the only path from a gesture to a Rekordbox MIDI command.

`Gate` is the pure decision component (gesture events + BodyTruth frames in, one `Decision`
per event out, every rule from the contracts via `Rules`); `replay` / `run_stream` drive it
over streams; `build_report` writes the dry-run report; `live_refusal` guards live mode and
`run_loop` runs it (lock, MIDI, log); `Recognizer` turns K11 pose observations into the first AirDeck gestures; `open_output`
and `MidiDispatcher` send the planned MIDI through mido.
"""
from .audit import audit
from .frames import FrameBuffer
from .gate import DISPATCHED, REFUSED, Authority, Decision, Gate
from .live import DispatchFailed, live_refusal, run_loop
from .lock import SafeStopLock
from .manifest import PromotedManifest, consistency_problems, gesture_entry, load_manifest
from .midi import MidiDispatcher, MidiOpenError, open_output, parse_tcp_spec
from .recognize import Recognizer, recognize
from .replay import is_frame, replay, run_stream
from .report import build_report, file_ref, live_report_problem
from .rules import Resolution, Rules, RulesError, Target, contract_digests

__all__ = [
    "DISPATCHED", "REFUSED", "Authority", "Decision", "DispatchFailed", "FrameBuffer", "Gate",
    "MidiDispatcher", "MidiOpenError", "PromotedManifest", "Recognizer", "Resolution", "Rules", "RulesError",
    "SafeStopLock", "Target", "audit", "build_report", "consistency_problems",
    "contract_digests", "file_ref", "gesture_entry", "is_frame", "live_refusal",
    "live_report_problem", "load_manifest", "open_output", "parse_tcp_spec", "recognize",
    "replay", "run_loop", "run_stream",
]
