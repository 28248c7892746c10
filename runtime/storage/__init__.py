"""K11 storage: the bundle indexer, bundle manifests, the Pose Coach adapter, the Mac5 handoff, BagIt."""
from ._bagit_io import BagCheck, BagExport, NotABag, check_bag, export_bag, export_bundle, validate_bag
from ._bundle import bundle_digest, bundle_dir_of, create_bundle, read_bundle, register_derived, update_bundle
from ._checksum import read_sidecar, sha256_file, sha256_files, sidecar_line
from ._extract import ArchiveCorrupt, ArchivePending, ArchiveRefused
from ._indexer import BadRoot, IndexResult, index_root
from ._lock import RootBusy, root_lock
from ._mac5 import Mac5Refused, Mac5Result, read_session, source_spec
from ._mac5 import process as mac5_process
from ._policy import derived_folder_of, incoming_dir, layout, processed_dir
from ._pose_coach import add_pose_coach, resolve_latest
from ._references import Reference, Root, locate_reference, reference_roots, references, unrooted

__all__ = [
    "ArchiveCorrupt",
    "ArchivePending",
    "ArchiveRefused",
    "BadRoot",
    "BagCheck",
    "BagExport",
    "IndexResult",
    "Mac5Refused",
    "Mac5Result",
    "NotABag",
    "Reference",
    "Root",
    "RootBusy",
    "add_pose_coach",
    "bundle_digest",
    "bundle_dir_of",
    "check_bag",
    "create_bundle",
    "derived_folder_of",
    "export_bag",
    "export_bundle",
    "incoming_dir",
    "index_root",
    "layout",
    "locate_reference",
    "mac5_process",
    "processed_dir",
    "read_bundle",
    "read_session",
    "read_sidecar",
    "reference_roots",
    "references",
    "register_derived",
    "resolve_latest",
    "root_lock",
    "sha256_file",
    "sha256_files",
    "sidecar_line",
    "source_spec",
    "unrooted",
    "update_bundle",
    "validate_bag",
]
