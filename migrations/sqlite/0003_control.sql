-- The control plane: who changed what through the HTTP API, and what runtime agents
-- report about where artifacts run. Wall-clock columns only; nothing here is signed or
-- exported.

-- One row per mutating API call, written whatever its outcome.
CREATE TABLE audit (
    seq              INTEGER PRIMARY KEY,
    at_ms            INTEGER NOT NULL,
    token            TEXT    NOT NULL,   -- the token's name, never the token
    tenant           TEXT    NOT NULL,
    method           TEXT    NOT NULL,
    path             TEXT    NOT NULL,
    status           INTEGER NOT NULL,
    idempotency_key  TEXT,
    body_sha256      TEXT    NOT NULL
);

-- The last event a runtime agent reported for an artifact in an environment.
CREATE TABLE runtime_state (
    artifact     TEXT    NOT NULL,   -- sha256:<hex>
    environment  TEXT    NOT NULL,
    state        TEXT    NOT NULL,   -- deployed | running | retired
    tenant       TEXT    NOT NULL,
    updated_ms   INTEGER NOT NULL,
    PRIMARY KEY (artifact, environment)
);
CREATE INDEX runtime_running ON runtime_state (artifact) WHERE state = 'running';
