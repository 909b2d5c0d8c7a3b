//! Member paths: the only form in which a name taken from a tar header is used.
//!
//! A `MemberPath` cannot hold an absolute path, a `.` or `..` component, an empty
//! component, or any byte outside `[A-Za-z0-9._/-]`, so code holding one never has to
//! think about path traversal or control characters again.

use std::fmt;

use serde::{Serialize, Serializer};

/// Longest member path, in bytes (format v1).
pub const MAX_PATH_LEN: usize = 240;

/// A validated bundle member path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MemberPath(Box<str>);

/// Why a member path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemberPathError {
    #[error("path is empty")]
    Empty,
    #[error("path {path:?} is {len} bytes long, longer than the {MAX_PATH_LEN} allowed")]
    TooLong { path: String, len: usize },
    #[error("path {path:?} is absolute")]
    Absolute { path: String },
    #[error("path {path:?} has a `..` component")]
    ParentComponent { path: String },
    #[error("path {path:?} has a `.` component")]
    CurrentComponent { path: String },
    #[error("path {path:?} has an empty component")]
    EmptyComponent { path: String },
    #[error("path {path:?} has byte 0x{byte:02x} at offset {offset}, outside [A-Za-z0-9._/-]")]
    ForbiddenByte {
        path: String,
        byte: u8,
        offset: usize,
    },
}

impl MemberPath {
    /// Validates raw bytes from a tar header or a manifest.
    pub fn parse(raw: &[u8]) -> Result<Self, MemberPathError> {
        let shown = || super::entries::shown_name(raw);
        if raw.is_empty() {
            return Err(MemberPathError::Empty);
        }
        if raw.len() > MAX_PATH_LEN {
            return Err(MemberPathError::TooLong {
                path: shown(),
                len: raw.len(),
            });
        }
        if raw[0] == b'/' {
            return Err(MemberPathError::Absolute { path: shown() });
        }
        if let Some(offset) = raw.iter().position(|b| !is_allowed(*b)) {
            return Err(MemberPathError::ForbiddenByte {
                path: shown(),
                byte: raw[offset],
                offset,
            });
        }
        for component in raw.split(|b| *b == b'/') {
            check_component(component, shown)?;
        }
        // Checked above: every byte is ASCII.
        Ok(Self(shown().into_boxed_str()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_allowed(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'/' | b'-')
}

fn check_component(component: &[u8], shown: impl Fn() -> String) -> Result<(), MemberPathError> {
    match component {
        b"" => Err(MemberPathError::EmptyComponent { path: shown() }),
        b"." => Err(MemberPathError::CurrentComponent { path: shown() }),
        b".." => Err(MemberPathError::ParentComponent { path: shown() }),
        _ => Ok(()),
    }
}

impl fmt::Display for MemberPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for MemberPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_relative_paths() {
        for ok in [
            "a",
            "advisories/GHSA-xxxx.json",
            "sbom/web.cdx.json",
            "a-b_c.d/e",
        ] {
            assert_eq!(MemberPath::parse(ok.as_bytes()).map(|p| p.0), Ok(ok.into()));
        }
    }

    #[test]
    fn refuses_each_kind_of_bad_path() {
        type Check = fn(&MemberPathError) -> bool;
        let cases: [(&[u8], Check); 8] = [
            (b"", |e| matches!(e, MemberPathError::Empty)),
            (b"/etc/passwd", |e| {
                matches!(e, MemberPathError::Absolute { .. })
            }),
            (b"a/../b", |e| {
                matches!(e, MemberPathError::ParentComponent { .. })
            }),
            (b"./a", |e| {
                matches!(e, MemberPathError::CurrentComponent { .. })
            }),
            (b"a//b", |e| {
                matches!(e, MemberPathError::EmptyComponent { .. })
            }),
            (b"a/", |e| {
                matches!(e, MemberPathError::EmptyComponent { .. })
            }),
            (b"a b", |e| {
                matches!(e, MemberPathError::ForbiddenByte { byte: b' ', .. })
            }),
            (b"a\x00", |e| {
                matches!(e, MemberPathError::ForbiddenByte { offset: 1, .. })
            }),
        ];
        for (raw, expected) in cases {
            let err = MemberPath::parse(raw).expect_err("must be refused");
            assert!(expected(&err), "{raw:?} gave {err:?}");
        }
        let long = vec![b'a'; MAX_PATH_LEN + 1];
        assert!(matches!(
            MemberPath::parse(&long),
            Err(MemberPathError::TooLong { .. })
        ));
        assert!(MemberPath::parse(&long[..MAX_PATH_LEN]).is_ok());
    }
}
