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

CREATE TABLE documents (
    feed            TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    doc_id          TEXT    NOT NULL,
    format          TEXT    NOT NULL,
    path            TEXT    NOT NULL,
    sha256          TEXT    NOT NULL,
    subject_name    TEXT,
    valid_from      INTEGER NOT NULL REFERENCES changelog (position),
    valid_to        INTEGER,
    bytes           BLOB    NOT NULL,   -- the raw document, exactly as signed
    PRIMARY KEY (feed, kind, doc_id, valid_from)
);

-- The current version of a document is found through the primary key's prefix
-- (feed, kind, doc_id): a document has few versions. At most one holds at a time;
-- ApplyTx ends the old version before it records a new one.
CREATE INDEX documents_kind_span ON documents (kind, valid_from, valid_to);
