//! Schedules: the rows behind `jobs::schedule`. Fire times are RFC 3339 UTC text of fixed
//! width, compared as text (see migrations/sqlite/0004_schedules.sql); what they mean is
//! computed in `jobs::schedule`, never here.

use rusqlite::{params, OptionalExtension as _, Row};
use serde::Serialize;

use super::{SqliteStore, StoreError};

/// A schedule to create, already validated.
#[derive(Clone, Debug)]
pub struct NewSchedule {
    pub schedule_id: String,
    pub tenant: String,
    pub cron: String,
    pub timezone: String,
    /// Canonical JSON of the selector.
    pub selector: String,
    pub created_ms: i64,
    /// The first fire time owed (RFC 3339 UTC).
    pub next_fire: String,
}

/// A schedule as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleRecord {
    pub schedule_id: String,
    pub tenant: String,
    pub cron: String,
    pub timezone: String,
    pub selector: String,
    pub paused: bool,
    pub created_ms: i64,
    /// The last fire time a run exists for.
    pub last_fired: Option<String>,
    /// The first fire time not yet handled.
    pub next_fire: String,
}

const SCHEDULE_SELECT: &str = "SELECT schedule_id, tenant, cron, timezone, selector, paused,
     created_ms, last_fired, next_fire FROM schedules";

fn read_schedule(r: &Row<'_>) -> rusqlite::Result<ScheduleRecord> {
    Ok(ScheduleRecord {
        schedule_id: r.get(0)?,
        tenant: r.get(1)?,
        cron: r.get(2)?,
        timezone: r.get(3)?,
        selector: r.get(4)?,
        paused: r.get(5)?,
        created_ms: r.get(6)?,
        last_fired: r.get(7)?,
        next_fire: r.get(8)?,
    })
}

impl SqliteStore {
    /// Creates a schedule; [`StoreError::ScheduleExists`] when its id is taken.
    pub fn create_schedule(&mut self, new: &NewSchedule) -> Result<ScheduleRecord, StoreError> {
        let inserted = self.conn.execute(
            "INSERT INTO schedules (schedule_id, tenant, cron, timezone, selector, paused,
                 created_ms, last_fired, next_fire)
             VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, NULL, ?7)
             ON CONFLICT (schedule_id) DO NOTHING",
            params![
                new.schedule_id,
                new.tenant,
                new.cron,
                new.timezone,
                new.selector,
                new.created_ms,
                new.next_fire,
            ],
        )?;
        if inserted == 0 {
            return Err(StoreError::ScheduleExists {
                schedule_id: new.schedule_id.clone(),
            });
        }
        self.schedule(&new.schedule_id)?
            .ok_or_else(|| StoreError::Corrupt {
                what: format!("schedule {} vanished after its insert", new.schedule_id),
            })
    }

    /// Schedules of one tenant (all with `None`), by id.
    pub fn schedules(&self, tenant: Option<&str>) -> Result<Vec<ScheduleRecord>, StoreError> {
        let sql =
            format!("{SCHEDULE_SELECT} WHERE (?1 IS NULL OR tenant = ?1) ORDER BY schedule_id");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([tenant], read_schedule)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn schedule(&self, schedule_id: &str) -> Result<Option<ScheduleRecord>, StoreError> {
        let sql = format!("{SCHEDULE_SELECT} WHERE schedule_id = ?1");
        Ok(self
            .conn
            .query_row(&sql, [schedule_id], read_schedule)
            .optional()?)
    }

    /// Deletes a schedule; false if there was none. Its runs stay.
    pub fn delete_schedule(&mut self, schedule_id: &str) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "DELETE FROM schedules WHERE schedule_id = ?1",
            [schedule_id],
        )?;
        Ok(n == 1)
    }

    /// Pauses or resumes a schedule; with `next_fire`, also moves its next fire time
    /// (a resume skips what passed while paused). False if there is no such schedule.
    pub fn set_schedule_paused(
        &mut self,
        schedule_id: &str,
        paused: bool,
        next_fire: Option<&str>,
    ) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE schedules SET paused = ?1, next_fire = COALESCE(?2, next_fire)
             WHERE schedule_id = ?3",
            params![paused, next_fire, schedule_id],
        )?;
        Ok(n == 1)
    }

    /// Unpaused schedules whose next fire time is at or before `now` (RFC 3339 UTC), by
    /// next fire time, then id.
    pub fn due_schedules(&self, now: &str) -> Result<Vec<ScheduleRecord>, StoreError> {
        let sql = format!(
            "{SCHEDULE_SELECT} WHERE paused = 0 AND next_fire <= ?1
             ORDER BY next_fire, schedule_id"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([now], read_schedule)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records that a run exists for `fired` and that `next` is owed next. Never moves a
    /// schedule back: false (and no change) when it already handled `fired` or later,
    /// as when another process got there first, or when the schedule is gone.
    pub fn mark_schedule_fired(
        &mut self,
        schedule_id: &str,
        fired: &str,
        next: &str,
    ) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE schedules SET last_fired = ?1, next_fire = ?2
             WHERE schedule_id = ?3 AND (last_fired IS NULL OR last_fired < ?1)",
            params![fired, next, schedule_id],
        )?;
        Ok(n == 1)
    }
}
