//! The one error of the formats room: which document, where in it, and what is wrong.
//!
//! Parsers work on a tree and do not know the file they read, so they report a [`Problem`]
//! with a path (`affected[0].ranges[1]`); the public functions attach the document's name.

use std::error::Error;
use std::fmt;

use crate::model::{DigestError, DocumentFormat, DocumentKind};

/// A document that could not be classified or parsed.
#[derive(Debug)]
pub struct FormatError {
    /// The name the caller gave for the document (usually its file name).
    pub document: String,
    pub problem: Problem,
}

impl FormatError {
    pub(crate) fn new(document: &str, problem: Problem) -> Self {
        Self {
            document: document.to_owned(),
            problem,
        }
    }
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.document, self.problem)
    }
}

/// The problem's own cause (a JSON or YAML syntax error, a bad time) is this error's
/// source; the problem itself is already in the message.
impl Error for FormatError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.problem.source()
    }
}

/// What is wrong, and where (`path` is a JSON path such as `statements[2].status`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// The bytes are not JSON; the source carries the line and column.
    #[error("not valid JSON")]
    Json(#[source] serde_json::Error),

    /// The bytes are not YAML; the source carries the line and column.
    #[error("not valid YAML")]
    Yaml(#[source] serde_norway::Error),

    #[error("cannot tell what kind of document this is: {reason}")]
    Unrecognized { reason: String },

    #[error("declared as {declared_kind}/{declared_format} but the content is {kind}/{format}")]
    Mismatch {
        declared_kind: DocumentKind,
        declared_format: DocumentFormat,
        kind: DocumentKind,
        format: DocumentFormat,
    },

    #[error("a {kind} document is written by a site, not read from a feed")]
    OutputKind { kind: DocumentKind },

    #[error("a {kind} document cannot be in format {format}")]
    NotAllowed {
        kind: DocumentKind,
        format: DocumentFormat,
    },

    /// The document has no identifier to be known by.
    #[error("{kind}/{format} document has no `{field}` to name it by")]
    MissingId {
        kind: DocumentKind,
        format: DocumentFormat,
        field: &'static str,
    },

    #[error("`{path}` is missing")]
    Missing { path: String },

    #[error("`{path}`: expected {expected}, got {got}")]
    WrongType {
        path: String,
        expected: &'static str,
        got: &'static str,
    },

    /// An OSV range without an `introduced` event describes no versions at all.
    #[error("`{path}`: range has no `introduced` event")]
    NoIntroduced { path: String },

    #[error("`{path}`: unknown status {value:?}, expected one of {expected}")]
    UnknownStatus {
        path: String,
        value: String,
        expected: &'static str,
    },

    #[error("`{path}`: unknown {what} {value:?}, expected one of {expected}")]
    UnknownValue {
        path: String,
        what: &'static str,
        value: String,
        expected: &'static str,
    },

    #[error("`{path}`: {value:?} is not an RFC 3339 time")]
    BadTimestamp {
        path: String,
        value: String,
        #[source]
        source: time::error::Parse,
    },

    #[error("`{path}`: {value:?} is not a SHA-256 digest")]
    BadDigest {
        path: String,
        value: String,
        #[source]
        source: DigestError,
    },

    /// A CSAF product id that the product tree does not define.
    #[error("`{path}`: product id {id:?} is not defined in the product tree")]
    UnknownProduct { path: String, id: String },

    #[error("`{path}`: {reason}")]
    Invalid { path: String, reason: String },
}
