-- Documents' bytes compressed with lz4 where the server was built with it, PostgreSQL
-- only. 0001 stores them out of line and uncompressed, because pglz (the default) cost
-- more time than the bytes it saved and held bulk ingest near 88 MB/s; lz4 is cheap
-- enough that writing a third of the bytes wins: benches/pg_ingest.rs measured 155 to
-- 166 MB/s uncompressed against 172 to 190 MB/s with lz4 on the same quiet server
-- (docs/postgres.md, "State and ingest", Benchmark).
--
-- A server without lz4 (built without it, or older than PostgreSQL 14, where
-- `default_toast_compression` does not exist) keeps 0001's choice. Either way documents
-- read back byte for byte; rows written before this migration stay as they were.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_settings
               WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE scheduler.documents ALTER COLUMN bytes SET STORAGE EXTENDED;
        ALTER TABLE scheduler.documents ALTER COLUMN bytes SET COMPRESSION lz4;
    END IF;
END
$$;
