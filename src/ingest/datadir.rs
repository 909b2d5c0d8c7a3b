//! The data dir: its folders, its config file, and `init`.
//!
//! ```text
//! DIR/config.json        site id, site key id, trust file, where the state lives
//! DIR/trust.json         trust roots (unless --trust says otherwise)
//! DIR/keys/site.key|pub  the site signing key
//! DIR/inbox/             drop folder: *.tar.zst, written as .NAME.partial then renamed
//! DIR/pending/           bundles waiting for an earlier sequence of their feed
//! DIR/archive/           applied bundles and duplicates
//! DIR/quarantine/        refused bundles, each with NAME.reason.json beside it
//! DIR/outbox/            what leaves the site
//! DIR/store/state.sqlite versioned state
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::bundle::keys::{self, KeyError};
use crate::bundle::manifest::check_feed_name;
use crate::bundle::{TrustError, TrustFile};
use crate::store::{Store, StoreError};

pub const CONFIG_SCHEMA: &str = "stella.config.v1";
const FOLDERS: [&str; 7] = [
    "inbox",
    "pending",
    "archive",
    "quarantine",
    "outbox",
    "store",
    "keys",
];

/// Paths of one data dir.
#[derive(Clone, Debug)]
pub struct DataDir {
    root: PathBuf,
    /// The PostgreSQL database holding the state, when not the SQLite file in `store/`.
    database_url: Option<String>,
}

/// `DIR/config.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    pub schema: String,
    pub site_id: String,
    pub site_key_id: String,
    /// Relative to the data dir unless absolute.
    pub trust: PathBuf,
    /// `postgresql` when `init` was given a database URL: every command must then be
    /// given one too, so that none opens an empty SQLite file beside the real state and
    /// archives bundles the database never saw. Absent: the SQLite file in `store/`
    /// (a URL may still be given, and the file is then not used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreKind>,
    /// Per feed, the VEX issuers (document authors) whose statements count; `*` for all.
    /// A feed not listed trusts every issuer it carries.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub vex_issuers: std::collections::BTreeMap<String, Vec<String>>,
    /// Per severity (`critical`, `high`, `medium`, `low`), how many seconds a job has
    /// before its SLA deadline; levels not listed keep the defaults (docs/scheduler.md).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub sla_seconds: std::collections::BTreeMap<String, u64>,
    /// Per SBOM feed, the tenant that owns the artifacts it describes; artifacts of
    /// unlisted feeds belong to `default` (docs/api.md, "Tenants").
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tenants: std::collections::BTreeMap<String, String>,
    /// Per feed (or `*` for every feed not named), how long it may go without a new
    /// bundle before `status`, `/readyz` and the metrics warn and fail (docs/state.md).
    #[serde(
        default,
        skip_serializing_if = "std::collections::BTreeMap::is_empty",
        deserialize_with = "crate::staleness::deserialize_budgets"
    )]
    pub staleness: std::collections::BTreeMap<String, crate::staleness::Budget>,
}

/// Where a data dir's state lives, when `init` recorded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    Postgresql,
}

impl Config {
    /// Whether `init` recorded that the state lives in PostgreSQL.
    pub fn in_postgresql(&self) -> bool {
        self.store == Some(StoreKind::Postgresql)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error(
        "{path} keeps its state in PostgreSQL (config.json: \"store\": \"postgresql\"); \
         give --database-url or set STELLA_DATABASE_URL"
    )]
    NeedsDatabaseUrl { path: PathBuf },
    #[error("{path} is already initialized (config.json exists)")]
    AlreadyInitialized { path: PathBuf },
    #[error(
        "{path} is not an initialized data dir; run `stella-scheduler init --data-dir {path}`"
    )]
    NotInitialized { path: PathBuf },
    #[error("site id {given:?} must match [a-z0-9][a-z0-9._-]{{0,63}} (it names the site's export feed)")]
    SiteId { given: String },
    #[error("cannot create {path}")]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path} is unreadable or invalid")]
    Config {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Trust(#[from] TrustError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Choices for `init`; all optional.
#[derive(Clone, Copy, Debug, Default)]
pub struct InitOptions<'a> {
    pub site_id: Option<&'a str>,
    /// Import this PKCS#8 key as the site key instead of generating one.
    pub site_key: Option<&'a Path>,
    /// Trust file path relative to the data dir (default trust.json).
    pub trust: Option<&'a Path>,
    /// Start with a copy of this trust file (validated) instead of an empty one.
    pub import_trust: Option<&'a Path>,
}

/// What `init` made.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Initialized {
    pub data_dir: String,
    pub site_id: String,
    pub keyid: String,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            database_url: None,
        }
    }

    /// The same data dir with its state in the PostgreSQL database at `url` (`None`:
    /// the SQLite file in `store/`).
    pub fn with_database_url(mut self, url: Option<String>) -> Self {
        self.database_url = url;
        self
    }

    /// The PostgreSQL database holding the state, if any.
    pub fn database_url(&self) -> Option<&str> {
        self.database_url.as_deref()
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn inbox(&self) -> PathBuf {
        self.root.join("inbox")
    }

    pub fn pending(&self) -> PathBuf {
        self.root.join("pending")
    }

    pub fn archive(&self) -> PathBuf {
        self.root.join("archive")
    }

    pub fn quarantine(&self) -> PathBuf {
        self.root.join("quarantine")
    }

    pub fn outbox(&self) -> PathBuf {
        self.root.join("outbox")
    }

    pub fn database(&self) -> PathBuf {
        self.root.join("store").join("state.sqlite")
    }

    pub fn site_key(&self) -> PathBuf {
        self.root.join("keys").join("site.key")
    }

    fn config_path(&self) -> PathBuf {
        self.root.join("config.json")
    }

    /// Reads config.json; an uninitialized dir gets a message saying how to init it.
    pub fn config(&self) -> Result<Config, DataDirError> {
        let path = self.config_path();
        if !path.exists() {
            return Err(DataDirError::NotInitialized {
                path: self.root.clone(),
            });
        }
        let bad = |source: Box<dyn std::error::Error + Send + Sync>| DataDirError::Config {
            path: path.clone(),
            source,
        };
        let bytes = std::fs::read(&path).map_err(|e| bad(e.into()))?;
        serde_json::from_slice(&bytes).map_err(|e| bad(e.into()))
    }

    /// The trust file in force: `--trust` if given, else the config's.
    pub fn trust_path(&self, config: &Config, over: Option<&Path>) -> PathBuf {
        match over {
            Some(p) => p.to_owned(),
            None => self.root.join(&config.trust),
        }
    }

    pub fn open_store(&self) -> Result<Store, DataDirError> {
        self.check_store_kind(&self.config()?)?;
        self.store()
    }

    /// Refuses to go on without a database URL when `config` says the state lives in
    /// PostgreSQL.
    fn check_store_kind(&self, config: &Config) -> Result<(), DataDirError> {
        match config.in_postgresql() && self.database_url.is_none() {
            true => Err(DataDirError::NeedsDatabaseUrl {
                path: self.root.clone(),
            }),
            false => Ok(()),
        }
    }

    /// The store of this data dir: PostgreSQL when a database URL is set, else the
    /// SQLite file; migrations are applied either way.
    fn store(&self) -> Result<Store, DataDirError> {
        Ok(match &self.database_url {
            Some(url) => Store::connect(url)?,
            None => Store::open(&self.database())?,
        })
    }

    /// Creates the layout, the store, an empty trust file, the config and the site key.
    pub fn init(&self, options: &InitOptions<'_>) -> Result<Initialized, DataDirError> {
        let InitOptions {
            site_id,
            site_key,
            trust,
            import_trust,
        } = *options;
        if self.config_path().exists() {
            return Err(DataDirError::AlreadyInitialized {
                path: self.root.clone(),
            });
        }
        for folder in FOLDERS {
            let path = self.root.join(folder);
            std::fs::create_dir_all(&path)
                .map_err(|source| DataDirError::Create { path, source })?;
        }
        let key = match site_key {
            Some(path) => keys::read_signing_key(path)?,
            None => keys::generate()?,
        };
        keys::write_key_pair(&self.root.join("keys"), "site", &key)?;
        let keyid = keys::key_id(&key.verifying_key());
        let site_id = site_id.map_or_else(|| format!("site-{}", &keyid[..12]), str::to_owned);
        check_feed_name(&site_id).map_err(|_| DataDirError::SiteId {
            given: site_id.clone(),
        })?;
        let trust_rel = trust.map_or_else(|| PathBuf::from("trust.json"), Path::to_path_buf);
        let trust_abs = self.root.join(&trust_rel);
        match import_trust {
            Some(from) => TrustFile::read(from)?.write(&trust_abs)?,
            None if !trust_abs.exists() => TrustFile::empty().write(&trust_abs)?,
            None => {}
        }
        self.store()?;
        self.write_config(&Config {
            schema: CONFIG_SCHEMA.to_owned(),
            site_id: site_id.clone(),
            site_key_id: keyid.clone(),
            trust: trust_rel,
            store: self.database_url.as_ref().map(|_| StoreKind::Postgresql),
            vex_issuers: Default::default(),
            sla_seconds: Default::default(),
            tenants: Default::default(),
            staleness: Default::default(),
        })?;
        Ok(Initialized {
            data_dir: self.root.display().to_string(),
            site_id,
            keyid,
        })
    }

    fn write_config(&self, config: &Config) -> Result<(), DataDirError> {
        let path = self.config_path();
        let bytes = crate::canonical::to_vec_pretty(config).expect("config serializes");
        crate::fsutil::write_atomic(&path, &bytes)
            .map_err(|source| DataDirError::Create { path, source })
    }
}
