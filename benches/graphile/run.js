// graphile-worker on the same no-op workload as benches/pg_queue.rs, the way its own
// perfTest measures it: N jobs queued in bulk in one statement, then worker processes
// with `concurrentJobs` each, local queue and batched completion (the perfTest preset),
// run until the queue is empty. Bulk queueing uses graphile_worker.add_jobs (its batch
// form of add_job): the perfTest's add_job per row of generate_series queued about
// 1,100 jobs/s here, which would make the comparison one of queueing calls.
//
//   node run.js <database-url> <jobs> <processes> <concurrency>
//
// Prints one JSON line: {"jobs", "enqueueSeconds", "workSeconds"}.
"use strict";

const { fork } = require("node:child_process");
const { Pool } = require("pg");
const { runMigrations, runOnce } = require("graphile-worker");

function preset(connectionString, concurrency) {
  return {
    worker: {
      connectionString,
      concurrentJobs: concurrency,
      maxPoolSize: concurrency + 1,
      localQueue: { size: 500, refetchDelay: { durationMs: 10 } },
      completeJobBatchDelay: 0,
      failJobBatchDelay: 0,
    },
  };
}

const noop = { noop: async () => {} };

async function work(connectionString, concurrency) {
  await runOnce({ preset: preset(connectionString, concurrency), noHandleSignals: true }, noop);
}

async function main() {
  const [url, jobs, processes, concurrency] = process.argv.slice(2);
  if (process.env.STELLA_GRAPHILE_CHILD) {
    await work(url, Number(concurrency));
    return;
  }
  const count = Number(jobs);
  await runMigrations({ connectionString: url });
  const pool = new Pool({ connectionString: url });
  const queued = process.hrtime.bigint();
  await pool.query(
    `SELECT graphile_worker.add_jobs(array_agg(
         ('noop', json_build_object('id', i), NULL, NULL, NULL, NULL, NULL, NULL)
           ::graphile_worker.job_spec))
       FROM generate_series(1, $1::int) i`,
    [count],
  );
  const enqueueSeconds = Number(process.hrtime.bigint() - queued) / 1e9;
  const started = process.hrtime.bigint();
  const children = Array.from({ length: Number(processes) }, () =>
    fork(__filename, process.argv.slice(2), {
      env: { ...process.env, STELLA_GRAPHILE_CHILD: "1" },
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    }),
  );
  const codes = await Promise.all(
    children.map((c) => new Promise((done) => c.on("exit", done))),
  );
  const workSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (codes.some((code) => code !== 0)) {
    throw new Error(`a worker process exited with ${codes.join(", ")}`);
  }
  const left = await pool.query("SELECT count(*)::int AS n FROM graphile_worker.jobs");
  await pool.end();
  if (left.rows[0].n !== 0) {
    throw new Error(`${left.rows[0].n} jobs left in the queue`);
  }
  console.log(JSON.stringify({ jobs: count, enqueueSeconds, workSeconds }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
