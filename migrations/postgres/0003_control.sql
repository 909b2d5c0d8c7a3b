-- The control plane, PostgreSQL dialect of sqlite/0003_control.sql, in schema
-- `scheduler`: who changed what through the HTTP API, and what runtime agents report.
-- audit.seq is assigned by the writer (MAX + 1 under a transaction lock) like SQLite's
-- rowid. Wall-clock columns only; nothing here is signed or exported.

CREATE TABLE scheduler.audit (
    seq              BIGINT  PRIMARY KEY,
    at_ms            BIGINT  NOT NULL,
    token            TEXT    NOT NULL,   -- the token's name, never the token
    tenant           TEXT    NOT NULL,
    method           TEXT    NOT NULL,
    path             TEXT    NOT NULL,
    status           BIGINT  NOT NULL,
    idempotency_key  TEXT,
    body_sha256      TEXT    NOT NULL
);

CREATE TABLE scheduler.runtime_state (
    artifact     TEXT    NOT NULL,   -- sha256:<hex>
    environment  TEXT    NOT NULL,
    state        TEXT    NOT NULL,   -- deployed | running | retired
    tenant       TEXT    NOT NULL,
    updated_ms   BIGINT  NOT NULL,
    PRIMARY KEY (artifact, environment)
);
CREATE INDEX runtime_running ON scheduler.runtime_state (artifact) WHERE state = 'running';
