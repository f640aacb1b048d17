-- The schema server/store.py created (CREATE TABLE IF NOT EXISTS at every start) before
-- Draftguard had migrations, as it was: tests/test_storage.py makes such a database and checks
-- that it is adopted with its data, and that the first migration creates the same schema.
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    kind TEXT NOT NULL,
    categories TEXT NOT NULL,          -- JSON list of category ids
    model_version TEXT,
    platform TEXT,
    surface TEXT,
    text TEXT,                         -- only with the employee's consent
    status TEXT NOT NULL DEFAULT 'new' -- new / labelled / discarded
);
CREATE TABLE IF NOT EXISTS daily_counts (
    day TEXT NOT NULL,
    metric TEXT NOT NULL,              -- checks, flagged, flagged:<category>
    count INTEGER NOT NULL,
    PRIMARY KEY (day, metric)
);

CREATE TABLE IF NOT EXISTS examples (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    text TEXT NOT NULL,
    text_key TEXT NOT NULL UNIQUE,     -- train.dataset.duplicate_key(text)
    labels TEXT NOT NULL,              -- JSON list of category ids; [] is a clean example
    source TEXT NOT NULL,              -- "upload:<file>", "api", "feedback"
    feedback_id INTEGER,
    added_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL               -- JSON object
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    state TEXT NOT NULL,               -- queued / running / succeeded / failed
    stage TEXT NOT NULL DEFAULT '',
    progress REAL NOT NULL DEFAULT 0,
    log TEXT NOT NULL DEFAULT '',
    model_version TEXT,
    error TEXT,
    finished TEXT,
    heartbeat REAL NOT NULL            -- unix time of the runner's last sign of life
);
-- At most one queued or running job, whichever worker or host asks: the database says no.
CREATE UNIQUE INDEX IF NOT EXISTS one_live_job ON jobs((1)) WHERE state IN ('queued', 'running');
CREATE TABLE IF NOT EXISTS admins (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS admin_sessions (
    token_hash TEXT PRIMARY KEY,       -- sha256 of the cookie's token, never the token itself
    admin TEXT NOT NULL,
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS pending_uploads (
    id TEXT PRIMARY KEY,
    admin TEXT NOT NULL,
    created REAL NOT NULL,
    filename TEXT NOT NULL,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS evaluations (
    version TEXT NOT NULL,
    data_key TEXT NOT NULL,            -- hash of the held-out file and the policy pack
    result TEXT NOT NULL,
    PRIMARY KEY (version, data_key)
);
