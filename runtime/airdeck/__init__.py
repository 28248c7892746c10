"""The AirDeck safety gate: the only path from a gesture to a Rekordbox MIDI command.

`DispatchGate` is the pure decision component (gesture events + BodyTruth frames in, one `Decision`
per event out, every rule from the contracts via `Rules`); `replay` / `run_stream` drive it
over streams; `build_report` writes the dry-run report; `live_refusal` guards live mode and
`run_loop` runs it (lock, MIDI, log); `Recognizer` turns K11 pose observations into the first AirDeck gestures; `open_output`
and `MidiDispatcher` send the planned MIDI through mido. The use cases are assembled in one place:
`dry_run`, `start_live` / `start_dry` (a `GateSession` over a live stream), `recognize_file`.
"""
from ._audit import audit
from ._dispatch_gate import DISPATCHED, REFUSED, Authority, Decision, DispatchGate
from ._frames import FrameBuffer
from ._inputs import FRAME, GESTURE, OBSERVATION, iter_stream
from ._live import DispatchFailed, live_refusal, run_loop
from ._lock import SafeStopLock
from ._manifest import (
    EvidenceCheck,
    PromotedManifest,
    bundle_root,
    consistency_problems,
    evidence_problems,
    gesture_entry,
    load_manifest,
    manifest_digest,
    sign_manifest,
)
from ._midi import MidiDispatcher, MidiOpenError, open_output, output_names, parse_tcp_spec
from ._midi_map import as_records
from ._pose_stream import pose_records
from ._recognize import Recognizer, recognize
from ._replay import is_frame, replay, run_stream
from ._report import build_report, file_ref, live_report_problem, report_subjects, sign_dry_run
from ._rules import PRESENCE, SAFE_STOP, Resolution, Rules, RulesError, Target, contract_digests
from ._session import (
    DryRun,
    GateSession,
    LiveRefused,
    dry_run,
    machine_of,
    recognize_file,
    start_dry,
    start_live,
)

__all__ = [
    "Authority",
    "DISPATCHED",
    "Decision",
    "DispatchFailed",
    "DryRun",
    "EvidenceCheck",
    "FRAME",
    "FrameBuffer",
    "GESTURE",
    "GateSession",
    "LiveRefused",
    "DispatchGate",
    "MidiDispatcher",
    "MidiOpenError",
    "OBSERVATION",
    "PRESENCE",
    "PromotedManifest",
    "REFUSED",
    "Recognizer",
    "Resolution",
    "Rules",
    "RulesError",
    "SAFE_STOP",
    "SafeStopLock",
    "Target",
    "as_records",
    "audit",
    "build_report",
    "bundle_root",
    "consistency_problems",
    "contract_digests",
    "dry_run",
    "evidence_problems",
    "file_ref",
    "gesture_entry",
    "is_frame",
    "iter_stream",
    "live_refusal",
    "live_report_problem",
    "load_manifest",
    "manifest_digest",
    "machine_of",
    "open_output",
    "output_names",
    "parse_tcp_spec",
    "pose_records",
    "recognize",
    "recognize_file",
    "replay",
    "report_subjects",
    "run_loop",
    "run_stream",
    "sign_dry_run",
    "sign_manifest",
    "start_dry",
    "start_live",
]
