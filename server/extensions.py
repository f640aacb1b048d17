"""Flask extensions created once and bound to each app in the factory."""
from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

# Counters live where create_app says (RATELIMIT_STORAGE_URI): Redis when DRAFTGUARD_REDIS_URL is
# set, so every worker on every host counts against one limit; else each worker's memory.
limiter = Limiter(get_remote_address, headers_enabled=True)

# Every form post needs the session's CSRF token; the bearer-token JSON APIs are exempted in
# create_app (a browser cannot attach someone else's bearer token).
csrf = CSRFProtect()


def configured_limit(key: str, **options):
    """A per-client rate limit read from the config; an empty value switches it off."""
    return limiter.limit(lambda: current_app.config[key], exempt_when=lambda: not current_app.config[key], **options)
