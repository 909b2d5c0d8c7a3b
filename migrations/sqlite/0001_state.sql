-- Versioned state: the change log, feed heads, and every version of every document.
-- A document version holds from position `valid_from` until `valid_to` (exclusive);
-- NULL `valid_to` means it still holds. Reading "as of P" is
--   valid_from <= P AND (valid_to IS NULL OR valid_to > P).

CREATE TABLE changelog (
    position      INTEGER PRIMARY KEY,
    feed          TEXT    NOT NULL,
    sequence      INTEGER NOT NULL,
    bundle_id     TEXT    NOT NULL UNIQUE,
    mode          TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,   -- from the manifest
    applied_at    TEXT    NOT NULL,   -- wall clock: kept here and nowhere else
    source_file   TEXT    NOT NULL,
    advisories    INTEGER NOT NULL,
    vex           INTEGER NOT NULL,
    sboms         INTEGER NOT NULL,
    withdrawn     INTEGER NOT NULL,
    expired_accepted INTEGER NOT NULL DEFAULT 0,
    UNIQUE (feed, sequence)
);

CREATE TABLE feeds (
    feed       TEXT    PRIMARY KEY,
    sequence   INTEGER NOT NULL,
    bundle_id  TEXT    NOT NULL,
    position   INTEGER NOT NULL REFERENCES changelog (position)
);

CREATE TABLE blobs (
    sha256  TEXT PRIMARY KEY,
    bytes   BLOB NOT NULL
);

CREATE TABLE documents (
    feed            TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    doc_id          TEXT    NOT NULL,
    format          TEXT    NOT NULL,
    path            TEXT    NOT NULL,
    sha256          TEXT    NOT NULL REFERENCES blobs (sha256),
    subject_name    TEXT,
    valid_from      INTEGER NOT NULL REFERENCES changelog (position),
    valid_to        INTEGER,
    PRIMARY KEY (feed, kind, doc_id, valid_from)
);

CREATE UNIQUE INDEX documents_current ON documents (feed, kind, doc_id) WHERE valid_to IS NULL;
CREATE INDEX documents_kind_span ON documents (kind, valid_from, valid_to);
