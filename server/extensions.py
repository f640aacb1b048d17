"""Flask extensions created once and bound to each app in the factory."""
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

# In-memory counters per worker process: a per-client ceiling against runaway clients, not an
# exact global quota (point storage_uri at Redis for that when several hosts serve).
limiter = Limiter(get_remote_address, storage_uri="memory://", headers_enabled=True)
