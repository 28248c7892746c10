"""Verifiers: named checks that read contracts and data, never change them, and feed readiness reports.

`lume verify` runs them (runner.run) and writes a signed readiness report (runner.report):
an in-toto Statement v1 in a DSSE envelope signed with Ed25519 (signing), with keys and the
trust file in keys, and Markdown / HTML renderings (render).
"""
from .framework import CheckResult, Evidence, Verifier, all_verifiers, verifier
from .keys import SigningKey, load_or_create_key, load_trust, trust, trust_file
from .signing import ReportRejected, sign_report, verify_report, write_report

__all__ = [
    "CheckResult", "Evidence", "ReportRejected", "SigningKey", "Verifier", "all_verifiers",
    "load_or_create_key", "load_trust", "sign_report", "trust", "trust_file", "verifier",
    "verify_report", "write_report",
]
