"""Every test gets its own key folder, trust file, cache and no machine configuration (a dry run,
a promotion and a readiness report sign with this machine's key, created and trusted on first use)."""
from lume_isolation import isolated_keys  # noqa: F401  (an autouse fixture)
