-- Versioned state, PostgreSQL dialect of sqlite/0001_state.sql: the same tables, columns,
-- keys and indexes in schema `scheduler`. INTEGER is BIGINT and BLOB is BYTEA. Where
-- SQLite assigns a rowid (INTEGER PRIMARY KEY), the key here is a plain BIGINT that the
-- writer assigns as MAX + 1 under a transaction lock: a sequence would leave gaps after
-- a rolled-back insert, and the keys (positions, run and job numbers) reach outputs that
-- must be byte-identical to SQLite's (docs/postgres.md).
-- A document version holds from position `valid_from` until `valid_to` (exclusive);
-- NULL `valid_to` means it still holds.

CREATE SCHEMA IF NOT EXISTS scheduler;

CREATE TABLE scheduler.changelog (
    position      BIGINT  PRIMARY KEY,
    feed          TEXT    NOT NULL,
    sequence      BIGINT  NOT NULL,
    bundle_id     TEXT    NOT NULL UNIQUE,
    mode          TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,   -- from the manifest
    applied_at    TEXT    NOT NULL,   -- wall clock: kept here and nowhere else
    source_file   TEXT    NOT NULL,
    advisories    BIGINT  NOT NULL,
    vex           BIGINT  NOT NULL,
    sboms         BIGINT  NOT NULL,
    withdrawn     BIGINT  NOT NULL,
    expired_accepted BIGINT NOT NULL DEFAULT 0,
    UNIQUE (feed, sequence)
);

CREATE TABLE scheduler.feeds (
    feed       TEXT    PRIMARY KEY,
    sequence   BIGINT  NOT NULL,
    bundle_id  TEXT    NOT NULL,
    position   BIGINT  NOT NULL REFERENCES scheduler.changelog (position)
);

CREATE TABLE scheduler.documents (
    feed            TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    doc_id          TEXT    NOT NULL,
    format          TEXT    NOT NULL,
    path            TEXT    NOT NULL,
    sha256          TEXT    NOT NULL,
    subject_name    TEXT,
    valid_from      BIGINT  NOT NULL REFERENCES scheduler.changelog (position),
    valid_to        BIGINT,
    bytes           BYTEA   NOT NULL,   -- the raw document, exactly as signed
    PRIMARY KEY (feed, kind, doc_id, valid_from)
);

CREATE INDEX documents_kind_span ON scheduler.documents (kind, valid_from, valid_to);

-- Documents are stored as written, out of line and uncompressed, as SQLite keeps them:
-- compressing each on insert (pglz, the default) capped bulk ingest at about 55 MB/s
-- on the one backend that writes them (benches/pg_ingest.rs, docs/postgres.md).
ALTER TABLE scheduler.documents ALTER COLUMN bytes SET STORAGE EXTERNAL;
