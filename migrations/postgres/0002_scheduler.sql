-- The scheduler, PostgreSQL dialect of sqlite/0002_scheduler.sql: the impact index,
-- runs, durable jobs, evaluations and exports, in schema `scheduler`. Differences from
-- SQLite (docs/postgres.md):
--   * runs.seq, jobs.job_id and exports.sequence are plain BIGINT keys that the writer
--     assigns (MAX + 1 under a transaction lock), so that they equal SQLite's rowids;
--   * jobs_ready sorts priority descending, as the claim orders, so that the claim
--     reads the index in order and stops after its batch;
--   * jobs_finished: jobs leave `jobs` in the transaction that succeeds or cancels them,
--     so that claims and rescues walk a table of open jobs only; every read that lists
--     jobs reads both tables;
--   * job_attempts.job_id has no foreign key: its job lives in one of two tables.
-- Wall-clock columns (`*_ms`) drive leases, deadlines and backoff; they are never signed
-- or exported.

CREATE TABLE scheduler.sbom_components (
    package     TEXT    NOT NULL,   -- matching::PackageKey::text(): type/namespace/name
    artifact    TEXT    NOT NULL,   -- the SBOM's doc_id: sha256:<hex>
    purl        TEXT    NOT NULL,   -- the component's purl, as written
    feed        TEXT    NOT NULL,
    valid_from  BIGINT  NOT NULL REFERENCES scheduler.changelog (position),
    valid_to    BIGINT,
    version     TEXT,               -- the version this lookup compares (epoch, upstream applied)
    release     TEXT,               -- the distribution release of a `distro` qualifier
    PRIMARY KEY (package, artifact, purl, feed, valid_from)
);
CREATE INDEX sbom_components_artifact ON scheduler.sbom_components (feed, artifact, valid_to);

CREATE INDEX documents_subjects
    ON scheduler.documents (kind, doc_id, feed, valid_from, valid_to, subject_name);

CREATE INDEX documents_closed ON scheduler.documents (kind, valid_to) WHERE valid_to IS NOT NULL;

CREATE TABLE scheduler.runs (
    seq              BIGINT  PRIMARY KEY,
    run_id           TEXT    NOT NULL UNIQUE,
    tenant           TEXT    NOT NULL DEFAULT 'default',
    trigger          TEXT    NOT NULL,   -- window | recheck | schedule | runtime
    position         BIGINT  NOT NULL,   -- the state every job of the run reads
    window_position  BIGINT  UNIQUE REFERENCES scheduler.changelog (position),
    selector         TEXT,               -- canonical JSON, for non-window runs
    idempotency_key  TEXT    UNIQUE,
    state            TEXT    NOT NULL,   -- queued | planning | running | completed | failed | cancelled
    impact           BYTEA,              -- canonical JSON of the impact set
    impact_digest    TEXT,
    artifacts        BIGINT  NOT NULL DEFAULT 0,
    summary          BYTEA,              -- canonical JSON, once finished
    delta_digest     TEXT,
    completion       BYTEA,              -- the DSSE envelope of the completion event
    emitted          BIGINT  NOT NULL DEFAULT 0,   -- written to the outbox
    export_seq       BIGINT,             -- the export bundle that carried it
    created_ms       BIGINT  NOT NULL,
    finished_ms      BIGINT
);
CREATE INDEX runs_state ON scheduler.runs (state, seq);

-- Open jobs (queued, leased) and dead letters; succeeded and cancelled jobs move to
-- jobs_finished.
CREATE TABLE scheduler.jobs (
    job_id           BIGINT  PRIMARY KEY,
    run_seq          BIGINT  NOT NULL REFERENCES scheduler.runs (seq),
    tenant           TEXT    NOT NULL DEFAULT 'default',
    artifact         TEXT    NOT NULL,
    idempotency_key  TEXT    NOT NULL UNIQUE,   -- <run_id>/<artifact>
    state            TEXT    NOT NULL,          -- queued | leased | succeeded | dead | cancelled
    severity         TEXT    NOT NULL,          -- critical | high | medium | low
    priority         BIGINT  NOT NULL DEFAULT 0,   -- higher first, after the deadline
    base_position    BIGINT,                    -- the artifact's previous evaluation
    attempt          BIGINT  NOT NULL DEFAULT 0,
    max_attempts     BIGINT  NOT NULL,
    not_before_ms    BIGINT  NOT NULL,
    deadline_ms      BIGINT  NOT NULL,
    lease_owner      TEXT,
    lease_until_ms   BIGINT,
    fence            BIGINT  NOT NULL DEFAULT 0,   -- bumped by every claim
    takeovers        BIGINT  NOT NULL DEFAULT 0,   -- leases taken back from stopped hosts
    last_error       TEXT,
    sla_breached     BIGINT  NOT NULL DEFAULT 0,
    finished_ms      BIGINT,
    UNIQUE (run_seq, artifact)
);
CREATE INDEX jobs_ready ON scheduler.jobs (deadline_ms, priority DESC, job_id) WHERE state = 'queued';
CREATE INDEX jobs_leased ON scheduler.jobs (lease_until_ms) WHERE state = 'leased';
CREATE INDEX jobs_run ON scheduler.jobs (run_seq, state);
CREATE INDEX jobs_artifact ON scheduler.jobs (artifact, run_seq);

-- Succeeded and cancelled jobs, moved out of `jobs` by the transaction that finished
-- them: the same columns and keys. A job id is in exactly one of the two tables; the
-- writer assigns ids above the largest of both.
CREATE TABLE scheduler.jobs_finished (
    job_id           BIGINT  PRIMARY KEY,
    run_seq          BIGINT  NOT NULL REFERENCES scheduler.runs (seq),
    tenant           TEXT    NOT NULL DEFAULT 'default',
    artifact         TEXT    NOT NULL,
    idempotency_key  TEXT    NOT NULL UNIQUE,
    state            TEXT    NOT NULL,          -- succeeded | cancelled
    severity         TEXT    NOT NULL,
    priority         BIGINT  NOT NULL DEFAULT 0,
    base_position    BIGINT,
    attempt          BIGINT  NOT NULL DEFAULT 0,
    max_attempts     BIGINT  NOT NULL,
    not_before_ms    BIGINT  NOT NULL,
    deadline_ms      BIGINT  NOT NULL,
    lease_owner      TEXT,
    lease_until_ms   BIGINT,
    fence            BIGINT  NOT NULL DEFAULT 0,
    takeovers        BIGINT  NOT NULL DEFAULT 0,
    last_error       TEXT,
    sla_breached     BIGINT  NOT NULL DEFAULT 0,
    finished_ms      BIGINT,
    UNIQUE (run_seq, artifact)
);
CREATE INDEX jobs_finished_run ON scheduler.jobs_finished (run_seq, state);
CREATE INDEX jobs_finished_artifact ON scheduler.jobs_finished (artifact, run_seq);

-- Every failed attempt, with its error chain: the dead letter's history.
CREATE TABLE scheduler.job_attempts (
    job_id    BIGINT  NOT NULL,   -- in scheduler.jobs or scheduler.jobs_finished
    attempt   BIGINT  NOT NULL,
    error     TEXT    NOT NULL,
    at_ms     BIGINT  NOT NULL,
    PRIMARY KEY (job_id, attempt)
);

CREATE TABLE scheduler.evaluations (
    artifact  TEXT    NOT NULL,
    position  BIGINT  NOT NULL,
    digest    TEXT    NOT NULL,
    findings  BYTEA   NOT NULL,   -- canonical JSON array
    PRIMARY KEY (artifact, position)
);

CREATE TABLE scheduler.deltas (
    run_seq   BIGINT  NOT NULL REFERENCES scheduler.runs (seq),
    artifact  TEXT    NOT NULL,
    delta     BYTEA   NOT NULL,   -- canonical JSON
    PRIMARY KEY (run_seq, artifact)
);

CREATE TABLE scheduler.exports (
    sequence    BIGINT  PRIMARY KEY,   -- the export bundle's sequence in the site feed
    bundle_id   TEXT    NOT NULL UNIQUE,
    file        TEXT    NOT NULL,
    runs        BIGINT  NOT NULL,
    created_at  TEXT    NOT NULL       -- from the inputs, as in the manifest
);

CREATE TABLE scheduler.queue_control (
    id      BIGINT  PRIMARY KEY CHECK (id = 1),
    paused  BIGINT  NOT NULL
);
INSERT INTO scheduler.queue_control (id, paused) VALUES (1, 0);
