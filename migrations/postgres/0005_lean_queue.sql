-- The job queue's hot path made lighter, PostgreSQL only: SQLite keeps 0002 as it is,
-- and both answer every query alike (docs/postgres.md). Every index and trigger on
-- `jobs` is paid at enqueue, again at claim (a claim changes indexed columns, so it is
-- never a HOT update), and once more when the job moves to `jobs_finished`;
-- benches/pg_queue.rs measured each change (docs/postgres.md, "Job queue").
--   * Foreign keys on run_seq go: runs are never deleted, and jobs and deltas are only
--     written for a run in the transaction that creates it or by its own jobs, so the
--     per-row checks only cost time.
--   * The UNIQUE index on idempotency_key goes from both job tables: the key is
--     `<run_id>/<artifact>`, and a run holds one job per artifact.
--   * UNIQUE (run_seq, artifact) becomes an index on run_seq, which every lookup by run
--     uses; one job per artifact in a run is checked by the writer before it inserts
--     (store::runs::one_job_per_artifact, on both backends), and was never a constraint
--     across the two tables.
--   * (run_seq, state) and (artifact, run_seq) indexes go. The latter served a job's
--     base position (the latest earlier run that planned its artifact), now read from
--     `artifact_plans`, one row per artifact kept by the run insert, and the runtime
--     hook's expedite, now served by a partial index of queued jobs.

ALTER TABLE scheduler.jobs DROP CONSTRAINT jobs_run_seq_fkey;
ALTER TABLE scheduler.jobs_finished DROP CONSTRAINT jobs_finished_run_seq_fkey;
ALTER TABLE scheduler.deltas DROP CONSTRAINT deltas_run_seq_fkey;
ALTER TABLE scheduler.jobs DROP CONSTRAINT jobs_idempotency_key_key;
ALTER TABLE scheduler.jobs_finished DROP CONSTRAINT jobs_finished_idempotency_key_key;
ALTER TABLE scheduler.jobs DROP CONSTRAINT jobs_run_seq_artifact_key;
ALTER TABLE scheduler.jobs_finished DROP CONSTRAINT jobs_finished_run_seq_artifact_key;
DROP INDEX scheduler.jobs_run;
DROP INDEX scheduler.jobs_finished_run;
DROP INDEX scheduler.jobs_artifact;
DROP INDEX scheduler.jobs_finished_artifact;

CREATE INDEX jobs_run ON scheduler.jobs (run_seq);
CREATE INDEX jobs_finished_run ON scheduler.jobs_finished (run_seq);
CREATE INDEX jobs_queued_artifact ON scheduler.jobs (artifact) WHERE state = 'queued';

-- The highest run position that planned each artifact, over every run so far: the base
-- position of the artifact's next job.
CREATE TABLE scheduler.artifact_plans (
    artifact  TEXT    PRIMARY KEY,
    position  BIGINT  NOT NULL
);
INSERT INTO scheduler.artifact_plans (artifact, position)
SELECT x.artifact, MAX(r.position)
FROM (SELECT artifact, run_seq FROM scheduler.jobs
      UNION ALL
      SELECT artifact, run_seq FROM scheduler.jobs_finished) x
JOIN scheduler.runs r ON r.seq = x.run_seq
GROUP BY x.artifact;
