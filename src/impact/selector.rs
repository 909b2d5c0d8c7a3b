//! Selectors: which artifacts a recheck (or a preview) names, without a window.

use serde::{Deserialize, Serialize};

use super::{Change, Collector, ImpactError, ImpactSet, Level, Reason, ReasonKind};
use crate::findings::parse;
use crate::formats::ParsedDocument;
use crate::matching::Purl;
use crate::model::{Digest, DocumentKind};
use crate::store::Store;

/// Exactly one of: every artifact, one artifact, the artifacts shipping a package (any
/// version, or the purl's version when it has one), or those a vulnerability's advisories
/// name (by id or alias, case-insensitive).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulnerability: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SelectorError {
    #[error("selector is not valid JSON of the documented shape: {0}")]
    Json(#[source] serde_json::Error),
    #[error(
        "a selector names exactly one of all, artifact, purl, vulnerability; this one names {0}"
    )]
    Arity(usize),
    #[error("selector `all` must be true")]
    AllFalse,
    #[error("selector artifact {0:?} is not a sha256:<64 hex> digest")]
    Artifact(String),
    #[error("selector purl {given:?} is invalid: {reason}")]
    Purl { given: String, reason: String },
    #[error("selector vulnerability must not be empty")]
    EmptyVulnerability,
}

impl Selector {
    /// Parses and checks a selector given as JSON text.
    pub fn parse(text: &str) -> Result<Self, SelectorError> {
        let selector: Selector = serde_json::from_str(text).map_err(SelectorError::Json)?;
        selector.check()?;
        Ok(selector)
    }

    pub fn check(&self) -> Result<(), SelectorError> {
        let named = [
            self.all.is_some(),
            self.artifact.is_some(),
            self.purl.is_some(),
            self.vulnerability.is_some(),
        ];
        match named.iter().filter(|n| **n).count() {
            1 => {}
            n => return Err(SelectorError::Arity(n)),
        }
        if self.all == Some(false) {
            return Err(SelectorError::AllFalse);
        }
        if let Some(a) = &self.artifact {
            a.parse::<Digest>()
                .map_err(|_| SelectorError::Artifact(a.clone()))?;
        }
        if let Some(p) = &self.purl {
            p.parse::<Purl>().map_err(|e| SelectorError::Purl {
                given: p.clone(),
                reason: e.to_string(),
            })?;
        }
        if self.vulnerability.as_deref().is_some_and(str::is_empty) {
            return Err(SelectorError::EmptyVulnerability);
        }
        Ok(())
    }

    /// Canonical JSON: how the selector is stored, shown and named in reasons.
    pub fn canonical(&self) -> String {
        let bytes = crate::canonical::to_vec(self).expect("a selector always serializes");
        String::from_utf8(bytes).expect("serde_json writes UTF-8")
    }
}

/// The artifacts `selector` names as of `position`.
pub fn select(store: &Store, selector: &Selector, position: u64) -> Result<ImpactSet, ImpactError> {
    selector.check()?;
    let last = store.position()?;
    if position > last {
        return Err(ImpactError::FutureWindow {
            asked: position,
            last,
        });
    }
    let id: std::sync::Arc<str> = selector.canonical().into();
    let reason = |component: Option<String>| Reason {
        kind: ReasonKind::Selector,
        feed: "".into(),
        id: id.clone(),
        change: Change::Selected,
        component,
    };
    let mut out = Collector::default();
    let described = store.artifacts_as_of(position)?;
    if selector.all.is_some() {
        for a in &described {
            out.add(&a.artifact, Level::Low, reason(None));
        }
    }
    if let Some(artifact) = &selector.artifact {
        for a in described.iter().filter(|a| &a.artifact == artifact) {
            out.add(&a.artifact, Level::Low, reason(None));
        }
    }
    if let Some(text) = &selector.purl {
        by_purl(store, position, text, &mut out, &reason)?;
    }
    if let Some(id) = &selector.vulnerability {
        by_vulnerability(store, position, id, &mut out, &reason)?;
    }
    Ok(out.finish(store, position)?)
}

fn by_purl(
    store: &Store,
    position: u64,
    text: &str,
    out: &mut Collector,
    reason: &dyn Fn(Option<String>) -> Reason,
) -> Result<(), ImpactError> {
    let purl: Purl = text
        .parse()
        .map_err(|e: crate::matching::PurlError| SelectorError::Purl {
            given: text.to_owned(),
            reason: e.to_string(),
        })?;
    let key = crate::matching::PackageKey::of_purl(&purl);
    for row in store.components_of(&key.text(), position)? {
        let version_ok = match &purl.version {
            None => true,
            Some(wanted) => row.version.as_deref() == Some(wanted.as_str()),
        };
        if version_ok {
            out.add(&row.artifact, Level::Low, reason(Some(row.purl)));
        }
    }
    Ok(())
}

/// Every artifact that the advisories about `id` (holding at `position`) judge.
///
/// Reads every advisory holding at the position to find aliases: fine for an operator's
/// recheck, too slow for a hot path.
fn by_vulnerability(
    store: &Store,
    position: u64,
    id: &str,
    out: &mut Collector,
    reason: &dyn Fn(Option<String>) -> Reason,
) -> Result<(), ImpactError> {
    let mut named = Vec::new();
    for doc in store.documents_as_of(DocumentKind::Advisory, position)? {
        let ParsedDocument::Advisory(advisory) = parse(&doc, DocumentKind::Advisory)? else {
            continue;
        };
        let mut ids = std::iter::once(&advisory.id).chain(&advisory.aliases);
        if ids.any(|i| i.eq_ignore_ascii_case(id)) {
            named.push(advisory);
        }
    }
    let levels: Vec<Level> = named
        .iter()
        .map(|a| Level::of_database_word(a.database_severity.as_deref()))
        .collect();
    let level = levels.into_iter().max().unwrap_or(Level::Low);
    super::window::judged(store, position, named, |row, _| {
        out.add(row.artifact, level, reason(Some(row.purl.to_owned())));
    })?;
    Ok(())
}
