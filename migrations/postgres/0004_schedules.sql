-- Schedules, PostgreSQL dialect of sqlite/0004_schedules.sql, in schema `scheduler`.
-- Fire times are RFC 3339 UTC text with whole seconds: fixed width, so text order is
-- time order (PgStore::connect refuses a database whose collation is not byte order,
-- docs/postgres.md). Nothing here is signed or exported.
CREATE TABLE scheduler.schedules (
    schedule_id  TEXT    PRIMARY KEY,   -- the user-given name: [a-z0-9][a-z0-9._-]{0,63}
    tenant       TEXT    NOT NULL DEFAULT 'default',
    cron         TEXT    NOT NULL,      -- 5 fields: minute hour day-of-month month day-of-week
    timezone     TEXT    NOT NULL,      -- IANA name, e.g. Europe/Berlin
    selector     TEXT    NOT NULL,      -- canonical JSON of the recheck's selector
    paused       BIGINT  NOT NULL DEFAULT 0,
    created_ms   BIGINT  NOT NULL,
    last_fired   TEXT,                  -- the last fire time handled (a run exists for it)
    next_fire    TEXT    NOT NULL       -- the first fire time not yet handled
);
CREATE INDEX schedules_due ON scheduler.schedules (next_fire) WHERE paused = 0;
