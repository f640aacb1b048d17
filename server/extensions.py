"""Flask extensions created once and bound to each app in the factory."""
from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

# In-memory counters per worker process: a per-client ceiling against runaway clients, not an
# exact global quota (point storage_uri at Redis for that when several hosts serve).
limiter = Limiter(get_remote_address, storage_uri="memory://", headers_enabled=True)

# Every form post needs the session's CSRF token; the bearer-token JSON APIs are exempted in
# create_app (a browser cannot attach someone else's bearer token).
csrf = CSRFProtect()


def configured_limit(key: str, **options):
    """A per-client rate limit read from the config; an empty value switches it off."""
    return limiter.limit(lambda: current_app.config[key], exempt_when=lambda: not current_app.config[key], **options)
