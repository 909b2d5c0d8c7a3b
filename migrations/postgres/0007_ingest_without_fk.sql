-- Bulk ingest made lighter, PostgreSQL only: SQLite keeps 0001 and 0002 as they are, and
-- both answer every query alike (docs/postgres.md). A foreign key is checked row by row
-- by a trigger, and a snapshot writes hundreds of thousands of rows that all reference
-- the same change-log position: the one its own transaction inserted first
-- (store::postgres::apply::begin). Change-log rows are never deleted or renumbered, so
-- the checks on document versions and SBOM components only cost time;
-- benches/ingest.rs measured it (docs/postgres.md, "State and ingest").
-- The keys of `feeds` and `runs`, written once per bundle or run, stay.

ALTER TABLE scheduler.documents DROP CONSTRAINT documents_valid_from_fkey;
ALTER TABLE scheduler.sbom_components DROP CONSTRAINT sbom_components_valid_from_fkey;
