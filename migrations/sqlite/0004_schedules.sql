-- Schedules: cron expressions in an IANA time zone that create recheck runs
-- (src/jobs/schedule.rs). Fire times are RFC 3339 UTC text with whole seconds
-- (`2026-03-29T01:00:00Z`): fixed width, so text order is time order and `due` is one
-- comparison. Nothing here is signed or exported.
CREATE TABLE schedules (
    schedule_id  TEXT    PRIMARY KEY,   -- the user-given name: [a-z0-9][a-z0-9._-]{0,63}
    tenant       TEXT    NOT NULL DEFAULT 'default',
    cron         TEXT    NOT NULL,      -- 5 fields: minute hour day-of-month month day-of-week
    timezone     TEXT    NOT NULL,      -- IANA name, e.g. Europe/Berlin
    selector     TEXT    NOT NULL,      -- canonical JSON of the recheck's selector
    paused       INTEGER NOT NULL DEFAULT 0,
    created_ms   INTEGER NOT NULL,
    last_fired   TEXT,                  -- the last fire time handled (a run exists for it)
    next_fire    TEXT    NOT NULL       -- the first fire time not yet handled
);
CREATE INDEX schedules_due ON schedules (next_fire) WHERE paused = 0;
