-- The scheduler: the impact index, runs, durable jobs, evaluations, and exports.
-- Wall-clock columns (`*_ms`) drive leases, deadlines and backoff; they are never signed
-- or exported. Everything signed is derived from positions and document contents.

-- Which components each SBOM version lists, keyed by package so that an advisory finds
-- the artifacts that ship its package. Rows share the span of their SBOM version
-- (documents.valid_from / valid_to), so the index reads "as of a position" like the rest.
-- One row per package key a component is looked up by (its own, and for distribution
-- packages its source package), with the version and release that lookup compares.
-- Clustered by package: an advisory's lookup is one range scan, no row fetches.
CREATE TABLE sbom_components (
    package     TEXT    NOT NULL,   -- matching::PackageKey::text(): type/namespace/name
    artifact    TEXT    NOT NULL,   -- the SBOM's doc_id: sha256:<hex>
    purl        TEXT    NOT NULL,   -- the component's purl, as written
    feed        TEXT    NOT NULL,
    valid_from  INTEGER NOT NULL REFERENCES changelog (position),
    valid_to    INTEGER,
    version     TEXT,               -- the version this lookup compares (epoch, upstream applied)
    release     TEXT,               -- the distribution release of a `distro` qualifier
    PRIMARY KEY (package, artifact, purl, feed, valid_from)
) WITHOUT ROWID;
CREATE INDEX sbom_components_artifact ON sbom_components (feed, artifact, valid_to);

-- SBOM subjects by artifact, without touching the documents' bytes.
CREATE INDEX documents_subjects ON documents (kind, doc_id, feed, valid_from, valid_to, subject_name);

-- Versions closed at a position: what a window's "old" side reads.
CREATE INDEX documents_closed ON documents (kind, valid_to) WHERE valid_to IS NOT NULL;

CREATE TABLE runs (
    seq              INTEGER PRIMARY KEY,
    run_id           TEXT    NOT NULL UNIQUE,
    tenant           TEXT    NOT NULL DEFAULT 'default',
    trigger          TEXT    NOT NULL,   -- window | recheck | schedule | runtime
    position         INTEGER NOT NULL,   -- the state every job of the run reads
    window_position  INTEGER UNIQUE REFERENCES changelog (position),
    selector         TEXT,               -- canonical JSON, for non-window runs
    idempotency_key  TEXT    UNIQUE,
    state            TEXT    NOT NULL,   -- queued | planning | running | completed | failed | cancelled
    impact           BLOB,               -- canonical JSON of the impact set
    impact_digest    TEXT,
    artifacts        INTEGER NOT NULL DEFAULT 0,
    summary          BLOB,               -- canonical JSON, once finished
    delta_digest     TEXT,
    completion       BLOB,               -- the DSSE envelope of the completion event
    emitted          INTEGER NOT NULL DEFAULT 0,   -- written to the outbox
    export_seq       INTEGER,            -- the export bundle that carried it
    created_ms       INTEGER NOT NULL,
    finished_ms      INTEGER
);
CREATE INDEX runs_state ON runs (state, seq);

CREATE TABLE jobs (
    job_id           INTEGER PRIMARY KEY,
    run_seq          INTEGER NOT NULL REFERENCES runs (seq),
    tenant           TEXT    NOT NULL DEFAULT 'default',
    artifact         TEXT    NOT NULL,
    idempotency_key  TEXT    NOT NULL UNIQUE,   -- <run_id>/<artifact>
    state            TEXT    NOT NULL,          -- queued | leased | succeeded | dead | cancelled
    severity         TEXT    NOT NULL,          -- critical | high | medium | low
    priority         INTEGER NOT NULL DEFAULT 0,   -- higher first, after the deadline
    base_position    INTEGER,                   -- the artifact's previous evaluation
    attempt          INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    not_before_ms    INTEGER NOT NULL,
    deadline_ms      INTEGER NOT NULL,
    lease_owner      TEXT,
    lease_until_ms   INTEGER,
    fence            INTEGER NOT NULL DEFAULT 0,   -- bumped by every claim
    takeovers        INTEGER NOT NULL DEFAULT 0,   -- leases taken back from stopped hosts
    last_error       TEXT,
    sla_breached     INTEGER NOT NULL DEFAULT 0,
    finished_ms      INTEGER,
    UNIQUE (run_seq, artifact)
);
CREATE INDEX jobs_ready ON jobs (deadline_ms, priority, job_id) WHERE state = 'queued';
CREATE INDEX jobs_leased ON jobs (lease_until_ms) WHERE state = 'leased';
CREATE INDEX jobs_run ON jobs (run_seq, state);
CREATE INDEX jobs_artifact ON jobs (artifact, run_seq);

-- Every failed attempt, with its error chain: the dead letter's history.
CREATE TABLE job_attempts (
    job_id    INTEGER NOT NULL REFERENCES jobs (job_id),
    attempt   INTEGER NOT NULL,
    error     TEXT    NOT NULL,
    at_ms     INTEGER NOT NULL,
    PRIMARY KEY (job_id, attempt)
);

-- The findings of one artifact as of one position: a pure function of the state, kept
-- so that the next run diffs against it without recomputing.
CREATE TABLE evaluations (
    artifact  TEXT    NOT NULL,
    position  INTEGER NOT NULL,
    digest    TEXT    NOT NULL,
    findings  BLOB    NOT NULL,   -- canonical JSON array
    PRIMARY KEY (artifact, position)
);

-- What a job found changed for its artifact.
CREATE TABLE deltas (
    run_seq   INTEGER NOT NULL REFERENCES runs (seq),
    artifact  TEXT    NOT NULL,
    delta     BLOB    NOT NULL,   -- canonical JSON
    PRIMARY KEY (run_seq, artifact)
);

CREATE TABLE exports (
    sequence    INTEGER PRIMARY KEY,   -- the export bundle's sequence in the site feed
    bundle_id   TEXT    NOT NULL UNIQUE,
    file        TEXT    NOT NULL,
    runs        INTEGER NOT NULL,
    created_at  TEXT    NOT NULL       -- from the inputs, as in the manifest
);

CREATE TABLE queue_control (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    paused  INTEGER NOT NULL
);
INSERT INTO queue_control (id, paused) VALUES (1, 0);
