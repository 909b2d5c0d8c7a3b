//! The buffers of an apply and the two ways they reach the server: `COPY ... FROM
//! STDIN (FORMAT binary)` or one `INSERT ... SELECT FROM unnest(...)` per batch.
//! benches/pg_ingest.rs measures both; docs/postgres.md has the figures.

use sqlx::{Postgres, Transaction};

use crate::store::{ComponentRow, NewVersion};

/// How buffered document versions are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BulkPath {
    /// Binary COPY: no statement parameters to encode, rows stream as they are.
    #[default]
    Copy,
    /// One multi-row insert of parallel arrays per batch.
    Unnest,
}

/// New document versions waiting to be written, as parallel columns.
#[derive(Debug, Default)]
pub(super) struct PendingDocuments {
    kinds: Vec<&'static str>,
    ids: Vec<String>,
    formats: Vec<&'static str>,
    paths: Vec<String>,
    shas: Vec<String>,
    subjects: Vec<Option<String>>,
    bodies: Vec<Vec<u8>>,
    bytes: usize,
}

impl PendingDocuments {
    pub(super) fn push(&mut self, v: &NewVersion<'_>) {
        self.kinds.push(v.kind.as_str());
        self.ids.push(v.doc_id.to_owned());
        self.formats.push(v.format.as_str());
        self.paths.push(v.path.to_owned());
        self.shas.push(v.sha256.to_owned());
        self.subjects.push(v.subject_name.map(str::to_owned));
        self.bodies.push(v.bytes.to_vec());
        self.bytes += v.bytes.len();
    }

    pub(super) fn rows(&self) -> usize {
        self.ids.len()
    }

    /// Bytes of documents buffered.
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Inserts every buffered version of `feed`, holding from `position`.
    pub(super) async fn write(
        self,
        tx: &mut Transaction<'_, Postgres>,
        path: BulkPath,
        feed: &str,
        position: i64,
    ) -> Result<(), sqlx::Error> {
        match path {
            BulkPath::Copy => self.copy(tx, feed, position).await,
            BulkPath::Unnest => self.insert(tx, feed, position).await,
        }
    }

    async fn insert(
        self,
        tx: &mut Transaction<'_, Postgres>,
        feed: &str,
        position: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO scheduler.documents (feed, kind, doc_id, format, path, sha256,
                 subject_name, valid_from, valid_to, bytes)
             SELECT $1, n.kind, n.doc_id, n.format, n.path, n.sha256, n.subject_name, $2,
                 NULL, n.bytes
             FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                         $8::text[], $9::bytea[])
                  AS n(kind, doc_id, format, path, sha256, subject_name, bytes)",
        )
        .bind(feed)
        .bind(position)
        .bind(&self.kinds)
        .bind(&self.ids)
        .bind(&self.formats)
        .bind(&self.paths)
        .bind(&self.shas)
        .bind(&self.subjects)
        .bind(&self.bodies)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn copy(
        self,
        tx: &mut Transaction<'_, Postgres>,
        feed: &str,
        position: i64,
    ) -> Result<(), sqlx::Error> {
        let mut data = CopyData::with_capacity(self.bytes + self.rows() * 256);
        for i in 0..self.rows() {
            data.row(10);
            data.text(Some(feed));
            data.text(Some(self.kinds[i]));
            data.text(Some(&self.ids[i]));
            data.text(Some(self.formats[i]));
            data.text(Some(&self.paths[i]));
            data.text(Some(&self.shas[i]));
            data.text(self.subjects[i].as_deref());
            data.int8(Some(position));
            data.int8(None);
            data.field(Some(&self.bodies[i]));
        }
        let mut copy = tx
            .copy_in_raw(
                "COPY scheduler.documents (feed, kind, doc_id, format, path, sha256,
                     subject_name, valid_from, valid_to, bytes)
                 FROM STDIN (FORMAT binary)",
            )
            .await?;
        match copy.send(data.finish()).await {
            Ok(_) => copy.finish().await.map(drop),
            Err(e) => {
                // Ends the COPY so that the connection can carry the rollback.
                let _ = copy.abort("the bulk write failed").await;
                Err(e)
            }
        }
    }
}

/// A batch of `COPY ... (FORMAT binary)` input: the signature, then per row a field
/// count and each field as a length (-1 for NULL) and its bytes, all big-endian.
struct CopyData(Vec<u8>);

impl CopyData {
    fn with_capacity(n: usize) -> Self {
        let mut buf = Vec::with_capacity(n + 32);
        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags: no OIDs
        buf.extend_from_slice(&0i32.to_be_bytes()); // no header extension
        Self(buf)
    }

    fn row(&mut self, fields: i16) {
        self.0.extend_from_slice(&fields.to_be_bytes());
    }

    fn field(&mut self, value: Option<&[u8]>) {
        match value {
            Some(v) => {
                // Members are capped far below 2 GiB (bundle Limits), as PostgreSQL's
                // own field limit is 1 GiB.
                let len = i32::try_from(v.len()).unwrap_or(i32::MAX);
                self.0.extend_from_slice(&len.to_be_bytes());
                self.0.extend_from_slice(v);
            }
            None => self.0.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }

    /// Text travels as its UTF-8 bytes in binary COPY.
    fn text(&mut self, value: Option<&str>) {
        self.field(value.map(str::as_bytes));
    }

    fn int8(&mut self, value: Option<i64>) {
        self.field(value.map(i64::to_be_bytes).as_ref().map(|b| &b[..]));
    }

    fn finish(mut self) -> Vec<u8> {
        self.0.extend_from_slice(&(-1i16).to_be_bytes());
        self.0
    }
}

/// SBOM components waiting to be indexed, as parallel columns.
#[derive(Debug, Default)]
pub(super) struct PendingComponents {
    packages: Vec<String>,
    artifacts: Vec<String>,
    versions: Vec<Option<String>>,
    releases: Vec<Option<String>>,
    purls: Vec<String>,
}

impl PendingComponents {
    pub(super) fn push(&mut self, artifact: &str, rows: &[ComponentRow]) {
        for row in rows {
            self.packages.push(row.package.clone());
            self.artifacts.push(artifact.to_owned());
            self.versions.push(row.version.clone());
            self.releases.push(row.release.clone());
            self.purls.push(row.purl.clone());
        }
    }

    pub(super) fn rows(&self) -> usize {
        self.packages.len()
    }

    /// Inserts the buffered rows in order; a row whose key is taken (a component listed
    /// twice) is skipped, so the first stays, as SQLite's INSERT OR IGNORE does. COPY
    /// cannot skip conflicts, so components always take the insert.
    pub(super) async fn write(
        self,
        tx: &mut Transaction<'_, Postgres>,
        feed: &str,
        position: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO scheduler.sbom_components (feed, artifact, valid_from, valid_to,
                 package, version, release, purl)
             SELECT $1, n.artifact, $2, NULL, n.package, n.version, n.release, n.purl
             FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
                  WITH ORDINALITY AS n(package, artifact, version, release, purl, ord)
             ORDER BY n.ord
             ON CONFLICT DO NOTHING",
        )
        .bind(feed)
        .bind(position)
        .bind(&self.packages)
        .bind(&self.artifacts)
        .bind(&self.versions)
        .bind(&self.releases)
        .bind(&self.purls)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}
