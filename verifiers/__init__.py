"""Verifiers: named checks that read contracts and data, never change them, and feed readiness reports."""
