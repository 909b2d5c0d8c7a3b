//! Schedules on PostgreSQL. Mirrors store/schedules.rs: fire times are RFC 3339 UTC
//! text of fixed width, compared as text; `PgStore::connect` refuses a database whose
//! text order is not byte order, so `<`, `<=` and `ORDER BY` on them are SQLite's.

use sqlx::postgres::PgRow;
use sqlx::Row as _;

use super::PgStore;
use crate::store::{NewSchedule, ScheduleRecord, StoreError};

const SCHEDULE_SELECT: &str = "SELECT schedule_id, tenant, cron, timezone, selector, paused,
     created_ms, last_fired, next_fire FROM scheduler.schedules";

fn read_schedule(r: &PgRow) -> Result<ScheduleRecord, sqlx::Error> {
    Ok(ScheduleRecord {
        schedule_id: r.try_get(0)?,
        tenant: r.try_get(1)?,
        cron: r.try_get(2)?,
        timezone: r.try_get(3)?,
        selector: r.try_get(4)?,
        paused: r.try_get::<i64, _>(5)? != 0,
        created_ms: r.try_get(6)?,
        last_fired: r.try_get(7)?,
        next_fire: r.try_get(8)?,
    })
}

impl PgStore {
    /// Creates a schedule; [`StoreError::ScheduleExists`] when its id is taken.
    pub fn create_schedule(&mut self, new: &NewSchedule) -> Result<ScheduleRecord, StoreError> {
        let inserted = self.block_on("create_schedule", async {
            let mut conn = self.conn.lock().await;
            let n = sqlx::query(
                "INSERT INTO scheduler.schedules (schedule_id, tenant, cron, timezone,
                     selector, paused, created_ms, last_fired, next_fire)
                 VALUES ($1, $2, $3, $4, $5, 0, $6, NULL, $7)
                 ON CONFLICT (schedule_id) DO NOTHING",
            )
            .bind(&new.schedule_id)
            .bind(&new.tenant)
            .bind(&new.cron)
            .bind(&new.timezone)
            .bind(&new.selector)
            .bind(new.created_ms)
            .bind(&new.next_fire)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            Ok(n)
        })?;
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
        self.block_on("schedules", async {
            let mut conn = self.conn.lock().await;
            let sql = format!(
                "{SCHEDULE_SELECT} WHERE ($1::text IS NULL OR tenant = $1) ORDER BY schedule_id"
            );
            let rows = sqlx::query(&sql).bind(tenant).fetch_all(&mut *conn).await?;
            Ok(rows.iter().map(read_schedule).collect::<Result<_, _>>()?)
        })
    }

    pub fn schedule(&self, schedule_id: &str) -> Result<Option<ScheduleRecord>, StoreError> {
        self.block_on("schedule", async {
            let mut conn = self.conn.lock().await;
            let sql = format!("{SCHEDULE_SELECT} WHERE schedule_id = $1");
            let row = sqlx::query(&sql)
                .bind(schedule_id)
                .fetch_optional(&mut *conn)
                .await?;
            Ok(row.as_ref().map(read_schedule).transpose()?)
        })
    }

    /// Deletes a schedule; false if there was none. Its runs stay.
    pub fn delete_schedule(&mut self, schedule_id: &str) -> Result<bool, StoreError> {
        self.block_on("delete_schedule", async {
            let mut conn = self.conn.lock().await;
            let n = sqlx::query("DELETE FROM scheduler.schedules WHERE schedule_id = $1")
                .bind(schedule_id)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            Ok(n == 1)
        })
    }

    /// Pauses or resumes a schedule; with `next_fire`, also moves its next fire time
    /// (a resume skips what passed while paused). False if there is no such schedule.
    pub fn set_schedule_paused(
        &mut self,
        schedule_id: &str,
        paused: bool,
        next_fire: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.block_on("set_schedule_paused", async {
            let mut conn = self.conn.lock().await;
            let n = sqlx::query(
                "UPDATE scheduler.schedules SET paused = $1,
                     next_fire = COALESCE($2, next_fire)
                 WHERE schedule_id = $3",
            )
            .bind(i64::from(paused))
            .bind(next_fire)
            .bind(schedule_id)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            Ok(n == 1)
        })
    }

    /// Unpaused schedules whose next fire time is at or before `now` (RFC 3339 UTC), by
    /// next fire time, then id.
    pub fn due_schedules(&self, now: &str) -> Result<Vec<ScheduleRecord>, StoreError> {
        self.block_on("due_schedules", async {
            let mut conn = self.conn.lock().await;
            let sql = format!(
                "{SCHEDULE_SELECT} WHERE paused = 0 AND next_fire <= $1
                 ORDER BY next_fire, schedule_id"
            );
            let rows = sqlx::query(&sql).bind(now).fetch_all(&mut *conn).await?;
            Ok(rows.iter().map(read_schedule).collect::<Result<_, _>>()?)
        })
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
        self.block_on("mark_schedule_fired", async {
            let mut conn = self.conn.lock().await;
            let n = sqlx::query(
                "UPDATE scheduler.schedules SET last_fired = $1, next_fire = $2
                 WHERE schedule_id = $3 AND (last_fired IS NULL OR last_fired < $1)",
            )
            .bind(fired)
            .bind(next)
            .bind(schedule_id)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            Ok(n == 1)
        })
    }
}
