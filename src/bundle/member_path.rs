//! Member paths: the only form in which a name taken from a tar header is used.
//!
//! A `MemberPath` cannot hold an absolute path, a `.` or `..` component, an empty
//! component, or any byte outside `[A-Za-z0-9._/-]`, so code holding one never has to
//! think about path traversal or control characters again.
//!
//! A manifest of 200,000 documents holds 200,000 paths, and the manifest bytes stay in
//! memory while it is parsed anyway. So a path is a range of a shared byte store: the
//! paths of a manifest point into its bytes and cost no allocation of their own (once
//! parsed, `compact` packs those bytes down to the paths), and a path parsed on its own
//! (from a tar header) gets a store holding just its bytes.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::{Serialize, Serializer};

/// Longest member path, in bytes (format v1).
pub const MAX_PATH_LEN: usize = 240;

/// A validated bundle member path. Compared, ordered and hashed by its text.
///
/// Sixteen bytes, so a [`DocumentEntry`](super::manifest::DocumentEntry) stays at 72.
/// A path keeps its whole store alive: one path kept from a manifest keeps the paths of
/// all its documents in memory.
#[derive(Clone)]
pub struct MemberPath {
    /// Holds the path's bytes at `start..start + len`; other bytes may surround them.
    store: Arc<Vec<u8>>,
    start: u32,
    len: u32,
}

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
    /// Validates raw bytes from a tar header or a manifest, and copies them.
    pub fn parse(raw: &[u8]) -> Result<Self, MemberPathError> {
        check(raw)?;
        Ok(Self::own(raw))
    }

    /// Validates `raw` and, when it lies inside `store`, points into the store instead
    /// of copying. Bytes from anywhere else are copied as by [`MemberPath::parse`].
    pub(crate) fn parse_in(store: &Arc<Vec<u8>>, raw: &[u8]) -> Result<Self, MemberPathError> {
        check(raw)?;
        let Some(start) = offset_in(store, raw) else {
            return Ok(Self::own(raw));
        };
        Ok(Self {
            store: Arc::clone(store),
            start,
            len: raw.len() as u32,
        })
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.bytes()).expect("a member path is validated ASCII")
    }

    fn bytes(&self) -> &[u8] {
        let start = self.start as usize;
        &self.store[start..start + self.len as usize]
    }

    /// A store of its own. `raw` is validated, so at most `MAX_PATH_LEN` bytes.
    fn own(raw: &[u8]) -> Self {
        Self {
            store: Arc::new(raw.to_vec()),
            start: 0,
            len: raw.len() as u32,
        }
    }

    /// How many bytes the store behind this path holds, and whether `other` shares it.
    #[cfg(test)]
    pub(crate) fn store_shared_with(&self, other: &Self) -> (usize, bool) {
        (self.store.len(), Arc::ptr_eq(&self.store, &other.store))
    }
}

/// Shrinks `store` to the paths among `items` that point into it, packed in that order,
/// and frees the rest: once a manifest is parsed, its paths are all that is still needed
/// of its bytes, about a fifth of them.
///
/// Does nothing unless those paths sit in the store in the order of `items` (the order
/// a parser meets them) and nothing else holds the store.
pub(crate) fn compact<T>(
    store: Arc<Vec<u8>>,
    items: &mut [T],
    path_of: impl Fn(&mut T) -> &mut MemberPath,
) {
    if !in_order(&store, items, &path_of) {
        return;
    }
    // The paths let go of the store so that it can be rewritten. Until they are attached
    // again below, their ranges describe the old layout and must not be read.
    let detached = Arc::new(Vec::new());
    for_each_in(&store, items, &path_of, |p| p.store = Arc::clone(&detached));
    let store = match Arc::try_unwrap(store) {
        Ok(bytes) => Arc::new(pack(bytes, &detached, items, &path_of)),
        // Held elsewhere: nothing was moved, and the paths go back to it as they were.
        Err(store) => store,
    };
    for_each_in(&detached, items, &path_of, |p| p.store = Arc::clone(&store));
}

/// Moves each detached path to the front of `bytes`, one after the other.
fn pack<T>(
    mut bytes: Vec<u8>,
    detached: &Arc<Vec<u8>>,
    items: &mut [T],
    path_of: &impl Fn(&mut T) -> &mut MemberPath,
) -> Vec<u8> {
    let mut end = 0;
    for_each_in(detached, items, path_of, |p| {
        let (start, len) = (p.start as usize, p.len as usize);
        bytes.copy_within(start..start + len, end);
        p.start = end as u32;
        end += len;
    });
    bytes.truncate(end);
    bytes.shrink_to_fit();
    bytes
}

/// Whether the paths among `items` that point into `store` do not overlap and come in
/// the order they sit there, so that packing them never overwrites one not yet moved.
fn in_order<T>(
    store: &Arc<Vec<u8>>,
    items: &mut [T],
    path_of: &impl Fn(&mut T) -> &mut MemberPath,
) -> bool {
    let (mut end, mut ordered) = (0, true);
    for_each_in(store, items, path_of, |p| {
        ordered &= p.start >= end;
        end = p.start + p.len;
    });
    ordered
}

/// Runs `f` on each path among `items` that points into `store`.
fn for_each_in<T>(
    store: &Arc<Vec<u8>>,
    items: &mut [T],
    path_of: &impl Fn(&mut T) -> &mut MemberPath,
    mut f: impl FnMut(&mut MemberPath),
) {
    for item in items {
        let path = path_of(item);
        if Arc::ptr_eq(&path.store, store) {
            f(path);
        }
    }
}

/// Where `raw` starts inside `store`, if it is a slice of it reachable with `u32` offsets.
fn offset_in(store: &[u8], raw: &[u8]) -> Option<u32> {
    let start = (raw.as_ptr() as usize).checked_sub(store.as_ptr() as usize)?;
    let end = start.checked_add(raw.len())?;
    let fits = end <= store.len() && u32::try_from(end).is_ok();
    fits.then_some(start as u32)
}

/// The format v1 rules for a member path.
fn check(raw: &[u8]) -> Result<(), MemberPathError> {
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
    Ok(())
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

impl PartialEq for MemberPath {
    fn eq(&self, other: &Self) -> bool {
        self.bytes() == other.bytes()
    }
}

impl Eq for MemberPath {}

impl PartialOrd for MemberPath {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Byte order, which for ASCII is the order of the text.
impl Ord for MemberPath {
    fn cmp(&self, other: &Self) -> Ordering {
        self.bytes().cmp(other.bytes())
    }
}

impl Hash for MemberPath {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

/// Shows the text only, never the store around it.
impl fmt::Debug for MemberPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("MemberPath").field(&self.as_str()).finish()
    }
}

impl fmt::Display for MemberPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for MemberPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
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
            let path = MemberPath::parse(ok.as_bytes()).expect("valid");
            assert_eq!(path.as_str(), ok);
        }
    }

    #[test]
    fn a_path_inside_a_store_shares_it_and_equals_its_copy() {
        use std::hash::BuildHasher as _;
        let store = Arc::new(b"xx a/b.json yy".to_vec());
        let shared = MemberPath::parse_in(&store, &store[3..11]).expect("valid");
        let copied = MemberPath::parse(b"a/b.json").expect("valid");
        assert!(Arc::ptr_eq(&shared.store, &store));
        assert!(!Arc::ptr_eq(&copied.store, &store));
        assert_eq!(shared, copied);
        assert_eq!(shared.cmp(&copied), Ordering::Equal);
        let hasher = std::collections::hash_map::RandomState::new();
        assert_eq!(hasher.hash_one(&shared), hasher.hash_one(&copied));
        assert_eq!(format!("{shared:?}"), r#"MemberPath("a/b.json")"#);
        assert_eq!(shared.to_string(), "a/b.json");
        let elsewhere = MemberPath::parse_in(&store, b"a/b.json").expect("valid");
        assert!(!Arc::ptr_eq(&elsewhere.store, &store));
        assert!(matches!(
            MemberPath::parse_in(&store, &store[..4]),
            Err(MemberPathError::ForbiddenByte { offset: 2, .. })
        ));
    }

    #[test]
    fn compacting_packs_the_paths_in_a_store_and_leaves_others_alone() {
        let store = Arc::new(b"[\"b/1.json\", \"x\", \"a/22.json\"]".to_vec());
        let own = MemberPath::parse(b"c.json").expect("valid");
        let mut paths = vec![
            MemberPath::parse_in(&store, &store[2..10]).expect("valid"),
            own.clone(),
            MemberPath::parse_in(&store, &store[19..28]).expect("valid"),
        ];
        compact(store, &mut paths, |p| p);
        let texts: Vec<&str> = paths.iter().map(MemberPath::as_str).collect();
        assert_eq!(texts, ["b/1.json", "c.json", "a/22.json"]);
        assert_eq!(paths[0].store.as_slice(), b"b/1.jsona/22.json");
        assert!(Arc::ptr_eq(&paths[0].store, &paths[2].store));
        assert!(Arc::ptr_eq(&paths[1].store, &own.store));
    }

    #[test]
    fn compacting_a_store_held_elsewhere_or_out_of_order_changes_nothing() {
        let store = Arc::new(b"a.json b.json".to_vec());
        let a = MemberPath::parse_in(&store, &store[..6]).expect("valid");
        let b = MemberPath::parse_in(&store, &store[7..]).expect("valid");
        let mut reversed = vec![b.clone(), a.clone()];
        let mut in_order = vec![a.clone(), b.clone()];
        drop((a, b));
        compact(Arc::clone(&store), &mut reversed, |p| p);
        compact(Arc::clone(&store), &mut in_order, |p| p);
        for paths in [&reversed, &in_order] {
            assert!(paths.iter().all(|p| Arc::ptr_eq(&p.store, &store)));
        }
        assert_eq!(reversed[0].as_str(), "b.json");
        assert_eq!(in_order[0].as_str(), "a.json");
        assert_eq!(in_order[1].as_str(), "b.json");
        assert_eq!(store.as_slice(), b"a.json b.json");
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
