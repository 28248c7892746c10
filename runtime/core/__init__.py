"""The core every component stands on: contracts, validated I/O, time, configuration, keys.

- contracts: load them (`get`, `load_all`), validate against them (`problems`,
  `validate_file`), parse into generated models (`model_for`, `table`);
- the rule tables, typed (`labels`, `invariant`, `parameters`, `commands`, `policy`,
  `bundle_layout`, `body_truth_rules`, … and `rule_data` for plain JSON) and the label table
  as the one label lookup (`LabelIndex`, with `resolve_command`);
- validated I/O: `read_json`, `iter_jsonl`, `iter_records` / `read_records` / `validated` (JSONL
  records checked against their contract) and `InputError`; documents other programs write
  read tolerantly (`is_tolerant`, `tolerated`: their unknown keys as warnings); atomic writes
  (`write_json`, …; `write_below` in a folder others may write, such as a shared cache);
- time (`now`, and the one RFC 3339 rendering/parsing: `rfc3339`, `now_iso`, `parse_time`) and the machine configuration (`load_machine_config`);
- keys, the trust file and DSSE signing of statements (`SigningKey`, `sign_report`,
  `seal_report` for a report too large to hold twice, `verify_report` and `REPORT_CONTRACTS`,
  the report versions it takes, `sign_statement`, `verify_statement`, `read_envelope`), strict
  Ed25519 (`verify_ed25519`, `public_key_problem`: every Ed25519 check goes through them) and strict
  JSON for signed documents (`loads_strict`);
- freshness: the maximum age of each kind of evidence (`evidence_freshness`, `limit`) and
  the one comparison of an evidence time with the clock (`freshness`);
- input files opened one bounded way (`open_input`, `read_input`, under `read_json`,
  `iter_jsonl`, `read_text` and `read_yaml` too): regular files only, within input_limits.v1's
  limits per kind of input (`input_limit(kind)`); files only hashed are streamed (`hash_input`),
  live streams read in bounded lines (`bounded_lines`); how long a file must have been left
  unchanged for what was read of it to be trusted later on its stamp (`settle_ns`, `settled`);
- services' HTTP layer bounded against slow clients (`guarded_config`: a uvicorn configuration
  enforcing a service's row of service_connections.v1, `connection_limits(service)`);
- evidence and check results (`Evidence`, `CheckResult`), what checks and gates return.

Nothing here imports a component, a verifier or the CLI (tests/test_layers.py).
"""
from __future__ import annotations

from ._lazy import lazy_exports

# Exported name -> the private module that defines it, imported on first use (PEP 562): a small
# command (`lume --help`, `lume validate small.json`) pays only for the modules it touches, not
# for pydantic models, signing and keys.
_MODULES: dict[str, tuple[str, ...]] = {
    "_atomic": ("Staged", "dumps", "publish_once", "write_below", "write_bytes", "write_durable",
            "write_group", "write_json", "write_jsonl", "write_stream", "write_text",),
    "_check": ("check_all",),
    "_config": ("config_dir_path", "config_home", "config_path", "load_machine_config",),
    "_contracts": ("CONTRACT_BUNDLE", "ENVELOPE_KEYS", "Contract", "ContractError", "bundle_entry", "bundle_path", "by_id",
                   "contract_ref", "contracts_dir", "get", "load_all", "meta_for",),
    "_ed25519": ("public_key_problem", "verify_ed25519",),
    "_evidence": ("CheckResult", "Domain", "Evidence", "Status", "held", "status_of", "unchecked",
            "violated", "warned",),
    "_files": ("InputError", "NotRegularFile", "bounded_lines", "depth_over", "hash_input", "input_limit",
            "open_input", "read_input", "settle_ns", "settled", "size_text",),
    "_freshness": ("Freshness", "Limit", "evidence_freshness", "freshness", "limit", "span_text",),
    "_inline": ("self_contained",),
    "_lazy": ("lazy_exports",),
    "_gc": ("frozen_heap", "paused_gc", "return_free_memory", "skip_final_collection",),
    "_jsonl": ("iter_jsonl", "loads_bounded", "read_json",),
    "_lock": ("FileLock", "LockBusy",),
    "_keys": ("PRIVATE_NAME", "KeyProblem", "SigningKey", "key_dir", "keyid_of", "load_or_create_key",
            "load_private_key", "load_trust", "private_pem", "save_private_key", "trust", "trust_entry",
            "trust_file",),
    "_labels": ("CommandOf", "LabelIndex", "LabelMapping", "UnknownLabel",),
    "_models": ("model_for", "parse", "table",),
    "_records": ("iter_records", "read_records", "scan_records", "validated",),
    "_remediation": ("next_step",),
    "_rules": ("airdeck_gestures", "body_truth_inputs", "body_truth_modes", "body_truth_rules",
            "bundle_layout", "check_remediation", "commands", "deck_zones", "director_ownership",
            "input_limits", "invariant",
            "invariants", "labels", "midi_map", "parameters", "policy", "rule_data", "safety_invariants",
            "service_connections", "storage_root", "connection_limits",),
    "_signing": ("MalformedEnvelope", "REPORT_CONTRACTS", "ReportRejected", "canonical_json",
            "check_envelope", "decode_statement", "default_max_age_s", "is_envelope", "parse_envelope",
            "read_envelope", "Sealed", "seal_report", "seal_statement", "sign_report", "sign_statement",
            "signed_by", "verify_report", "verify_statement",),
    "_slow_clients": ("guarded_config",),
    "_strict_json": ("StrictJSONError", "loads_strict",),
    "_text": ("printable",),
    "_time": ("Clock", "fixed", "now", "now_iso", "parse_datetime", "parse_time", "rfc3339",),
    "_tolerant": ("is_tolerant",),
    "_validate": ("FileResult", "Problem", "UnknownContract", "Unreadable", "bundled_schema",
            "contract_for", "iter_documents", "json_path", "one_line", "problems", "table_problems",
            "tolerated", "validate_file",),
    "_yaml": ("loads_yaml", "read_text", "read_yaml",),
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _MODULES)
