"""K11 storage: the bundle indexer, bundle manifests, the Pose Coach adapter, the Mac5 handoff, BagIt."""
from .bundle import bundle_dir_of, create_bundle, read_bundle, update_bundle
from .checksum import sha256_file, sha256_files
from .extract import ArchiveCorrupt, ArchiveRefused
from .indexer import BadRoot, IndexResult, index_root
from .pose_coach import add_pose_coach, resolve_latest
from .bagit_io import BagCheck, NotABag, check_bag, export_bag, validate_bag
from .mac5 import Mac5Refused, Mac5Result, process as mac5_process
from .mac5_gate import GateRefused, check_gate_report

__all__ = [
    "BagCheck", "GateRefused", "Mac5Refused", "Mac5Result", "NotABag", "check_bag",
    "check_gate_report", "export_bag", "mac5_process", "validate_bag",
    "ArchiveCorrupt", "ArchiveRefused", "BadRoot", "IndexResult", "add_pose_coach", "bundle_dir_of",
    "create_bundle", "index_root", "read_bundle", "resolve_latest", "sha256_file", "sha256_files",
    "update_bundle",
]
