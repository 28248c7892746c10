"""LUME runtime: contracts access, the `lume` CLI and the thin components built on generated models."""
