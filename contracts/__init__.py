"""Contracts (YAML) shipped as package data; read them through `lume.runtime.contracts`."""
