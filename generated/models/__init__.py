"""Pydantic v2 models, one module per contract. Generated: do not edit."""
