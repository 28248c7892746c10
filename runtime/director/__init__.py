"""The director bus: one server-authoritative state, single writer per field."""
