"""The core every component stands on: contracts, validated I/O, time, configuration, keys.

- contracts: load them (`get`, `load_all`), validate against them (`problems`,
  `validate_file`), parse into generated models (`model_for`, `table`);
- the rule tables, typed (`labels`, `invariant`, `parameters`, `commands`, `policy`,
  `bundle_layout`, `body_truth_rules`, … and `rule_data` for plain JSON) and the label table
  as the one label lookup (`LabelIndex`, with `resolve_command`);
- validated I/O: `read_json`, `iter_jsonl`, `iter_records` / `read_records` / `validated` (JSONL
  records checked against their contract) and `InputError`; documents other programs write
  read tolerantly (`is_tolerant`, `tolerated`: their unknown keys as warnings); atomic writes
  (`write_json`, …);
- time (`now`, and the one RFC 3339 rendering/parsing: `rfc3339`, `now_iso`, `parse_time`) and the machine configuration (`load_machine_config`);
- keys, the trust file and DSSE signing of statements (`SigningKey`, `sign_report`,
  `verify_report`, `sign_statement`, `verify_statement`, `read_envelope`), strict Ed25519
  (`verify_ed25519`, `public_key_problem`: every Ed25519 check goes through them) and strict
  JSON for signed documents (`loads_strict`);
- freshness: the maximum age of each kind of evidence (`evidence_freshness`, `limit`) and
  the one comparison of an evidence time with the clock (`freshness`);
- input files opened one bounded way (`open_input`, `read_input`, under `read_json`,
  `iter_jsonl`, `read_text` and `read_yaml` too): regular files only, within input_limits.v1's
  limits per kind of input (`input_limit(kind)`); files only hashed are streamed (`hash_input`),
  live streams read in bounded lines (`bounded_lines`);
- services' HTTP layer bounded against slow clients (`guarded_config`: a uvicorn configuration
  enforcing a service's row of service_connections.v1, `connection_limits(service)`);
- evidence and check results (`Evidence`, `CheckResult`), what checks and gates return.

Nothing here imports a component, a verifier or the CLI (tests/test_layers.py).
"""
from ._atomic import (
    Staged,
    dumps,
    publish_once,
    write_bytes,
    write_durable,
    write_group,
    write_json,
    write_jsonl,
    write_text,
)
from ._check import check_all
from ._config import config_dir_path, config_home, config_path, load_machine_config
from ._contracts import (
    ENVELOPE_KEYS,
    Contract,
    ContractError,
    by_id,
    contract_ref,
    contracts_dir,
    get,
    load_all,
    meta_for,
)
from ._ed25519 import public_key_problem, verify_ed25519
from ._evidence import (
    CheckResult,
    Domain,
    Evidence,
    Status,
    held,
    status_of,
    unchecked,
    violated,
    warned,
)
from ._files import (
    InputError,
    NotRegularFile,
    bounded_lines,
    depth_over,
    hash_input,
    input_limit,
    open_input,
    read_input,
)
from ._freshness import Freshness, Limit, evidence_freshness, freshness, limit, span_text
from ._inline import self_contained
from ._jsonl import iter_jsonl, read_json
from ._keys import (
    PRIVATE_NAME,
    KeyProblem,
    SigningKey,
    key_dir,
    keyid_of,
    load_or_create_key,
    load_private_key,
    load_trust,
    private_pem,
    save_private_key,
    trust,
    trust_entry,
    trust_file,
)
from ._labels import CommandOf, LabelIndex, LabelMapping, UnknownLabel
from ._models import model_for, parse, table
from ._records import iter_records, read_records, scan_records, validated
from ._rules import (
    airdeck_gestures,
    body_truth_inputs,
    body_truth_modes,
    body_truth_rules,
    bundle_layout,
    commands,
    connection_limits,
    deck_zones,
    director_ownership,
    input_limits,
    invariant,
    invariants,
    labels,
    midi_map,
    parameters,
    policy,
    rule_data,
    safety_invariants,
    service_connections,
    storage_root,
)
from ._signing import (
    MalformedEnvelope,
    ReportRejected,
    canonical_json,
    check_envelope,
    decode_statement,
    default_max_age_s,
    is_envelope,
    parse_envelope,
    read_envelope,
    sign_report,
    sign_statement,
    signed_by,
    verify_report,
    verify_statement,
)
from ._slow_clients import guarded_config
from ._strict_json import StrictJSONError, loads_strict
from ._text import printable
from ._time import Clock, fixed, now, now_iso, parse_datetime, parse_time, rfc3339
from ._tolerant import is_tolerant
from ._validate import (
    FileResult,
    Problem,
    UnknownContract,
    Unreadable,
    bundled_schema,
    contract_for,
    iter_documents,
    json_path,
    one_line,
    problems,
    table_problems,
    tolerated,
    validate_file,
)
from ._yaml import loads_yaml, read_text, read_yaml

__all__ = [
    "CheckResult", "Clock", "CommandOf", "Contract", "ContractError", "Domain", "ENVELOPE_KEYS",
    "Evidence", "FileResult", "Freshness", "InputError", "KeyProblem", "LabelIndex", "LabelMapping",
    "Limit", "MalformedEnvelope", "PRIVATE_NAME", "Problem", "ReportRejected", "SigningKey",
    "Staged", "Status", "StrictJSONError", "canonical_json", "check_envelope", "evidence_freshness",
    "freshness", "is_envelope", "limit", "loads_strict", "parse_envelope", "public_key_problem",
    "read_envelope",
    "sign_statement", "signed_by", "span_text", "verify_ed25519", "verify_statement",
    "UnknownContract", "UnknownLabel", "Unreadable", "airdeck_gestures", "body_truth_modes",
    "body_truth_rules", "bundle_layout", "bundled_schema", "by_id", "check_all", "commands",
    "config_dir_path", "config_home", "config_path", "contract_for", "contract_ref",
    "contracts_dir", "deck_zones", "decode_statement", "default_max_age_s",
    "director_ownership", "dumps", "fixed", "get", "held", "invariant", "invariants",
    "is_tolerant", "iter_documents", "iter_jsonl", "iter_records", "json_path", "key_dir", "keyid_of",
    "labels", "load_all", "load_machine_config", "load_or_create_key", "load_private_key", "private_pem", "save_private_key", "load_trust", "meta_for",
    "midi_map", "model_for", "now", "now_iso", "one_line", "parameters", "parse",
    "parse_datetime", "parse_time", "policy", "problems", "publish_once", "read_json",
    "read_records", "scan_records", "rfc3339", "rule_data", "safety_invariants", "self_contained",
    "sign_report", "status_of", "storage_root", "table", "table_problems", "tolerated", "trust",
    "trust_entry", "trust_file", "unchecked", "validate_file", "validated", "verify_report",
    "violated", "warned", "write_bytes", "write_durable", "write_group",
    "write_json", "write_jsonl", "write_text",
    "NotRegularFile", "body_truth_inputs", "bounded_lines", "depth_over", "guarded_config", "hash_input",
    "printable", "connection_limits", "service_connections",
    "input_limit",
    "input_limits",
    "loads_yaml", "open_input", "read_input", "read_text", "read_yaml",
]
