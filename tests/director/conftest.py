"""Director fixtures; the helpers behind them live in director_harness.py (import that)."""
from director_harness import bus, start_bus  # noqa: F401  (fixtures pytest must see here)
