"""Small shared helpers: atomic writes, JSON/JSONL reading, CLI output."""
