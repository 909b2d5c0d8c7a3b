//! Feed chains: whether a verified bundle applies now, waits, repeats, or is refused.
//!
//! Pure: it sees the feed head and the bundle's manifest facts, never the store.

use serde::Serialize;

use crate::bundle::{Manifest, Mode};
use crate::store::FeedHead;

/// The chain-relevant facts of a manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub feed: String,
    pub sequence: u64,
    pub previous: Option<String>,
    pub mode: Mode,
}

impl Link {
    pub fn of(manifest: &Manifest) -> Self {
        Self {
            feed: manifest.feed.clone(),
            sequence: manifest.sequence,
            previous: manifest.previous.as_ref().map(|p| p.to_string()),
            mode: manifest.mode,
        }
    }
}

/// What to do with a verified bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Apply,
    /// Its bundle id was applied already, at this position.
    Duplicate {
        position: u64,
    },
    /// An earlier sequence of the feed must be applied first.
    Pending {
        waiting_for: u64,
    },
    Refuse(ChainError),
}

/// Why a bundle breaks its feed's chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "camelCase", tag = "problem")]
pub enum ChainError {
    #[error("fork: feed {feed} sequence {sequence} is already applied as bundle {applied}")]
    Fork {
        feed: String,
        sequence: u64,
        applied: String,
    },
    #[error("rollback: feed {feed} is at sequence {head}, this bundle is sequence {sequence}")]
    Rollback {
        feed: String,
        sequence: u64,
        head: u64,
    },
    #[error(
        "fork: feed {feed} sequence {sequence} names previous {previous}, \
         but the applied sequence {head} is bundle {applied}"
    )]
    PreviousMismatch {
        feed: String,
        sequence: u64,
        previous: String,
        head: u64,
        applied: String,
    },
}

/// Decides for `manifest` given the feed's head and whether its id was applied.
pub fn decide(head: Option<&FeedHead>, applied_at: Option<u64>, manifest: &Link) -> Decision {
    if let Some(position) = applied_at {
        return Decision::Duplicate { position };
    }
    let Some(head) = head else {
        return first_of_feed(manifest);
    };
    let (feed, sequence) = (manifest.feed.clone(), manifest.sequence);
    if manifest.mode == Mode::Snapshot {
        return match sequence > head.sequence {
            true => Decision::Apply,
            false => Decision::Refuse(ChainError::Rollback {
                feed,
                sequence,
                head: head.sequence,
            }),
        };
    }
    match sequence.cmp(&(head.sequence + 1)) {
        std::cmp::Ordering::Greater => Decision::Pending {
            waiting_for: head.sequence + 1,
        },
        std::cmp::Ordering::Equal => next_in_line(head, manifest),
        std::cmp::Ordering::Less if sequence == head.sequence => {
            let applied = head.bundle_id.clone();
            Decision::Refuse(ChainError::Fork {
                feed,
                sequence,
                applied,
            })
        }
        std::cmp::Ordering::Less => Decision::Refuse(ChainError::Rollback {
            feed,
            sequence,
            head: head.sequence,
        }),
    }
}

fn first_of_feed(manifest: &Link) -> Decision {
    match (manifest.mode, manifest.sequence) {
        (Mode::Snapshot, _) | (Mode::Delta, 1) => Decision::Apply,
        (Mode::Delta, _) => Decision::Pending { waiting_for: 1 },
    }
}

fn next_in_line(head: &FeedHead, manifest: &Link) -> Decision {
    let previous = manifest.previous.as_deref();
    if previous == Some(head.bundle_id.as_str()) {
        return Decision::Apply;
    }
    Decision::Refuse(ChainError::PreviousMismatch {
        feed: manifest.feed.clone(),
        sequence: manifest.sequence,
        previous: previous.unwrap_or("null").to_owned(),
        head: head.sequence,
        applied: head.bundle_id.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> String {
        hex::encode([n; 32])
    }

    fn manifest(sequence: u64, previous: Option<u8>, mode: &str) -> Link {
        let mode = if mode == "snapshot" {
            Mode::Snapshot
        } else {
            Mode::Delta
        };
        let previous = previous.map(id);
        Link {
            feed: "f".into(),
            sequence,
            previous,
            mode,
        }
    }

    fn head(sequence: u64, bundle: u8) -> FeedHead {
        FeedHead {
            feed: "f".into(),
            sequence,
            bundle_id: id(bundle),
            position: 7,
            applied_at: String::new(),
        }
    }

    #[test]
    fn an_empty_feed_takes_sequence_one_or_a_snapshot_and_waits_otherwise() {
        assert_eq!(
            decide(None, None, &manifest(1, None, "delta")),
            Decision::Apply
        );
        assert_eq!(
            decide(None, None, &manifest(9, None, "snapshot")),
            Decision::Apply
        );
        let waiting = decide(None, None, &manifest(3, Some(2), "delta"));
        assert_eq!(waiting, Decision::Pending { waiting_for: 1 });
    }

    #[test]
    fn the_next_delta_applies_only_on_top_of_the_head() {
        let h = head(2, 2);
        assert_eq!(
            decide(Some(&h), None, &manifest(3, Some(2), "delta")),
            Decision::Apply
        );
        let forked = decide(Some(&h), None, &manifest(3, Some(9), "delta"));
        assert!(matches!(
            forked,
            Decision::Refuse(ChainError::PreviousMismatch { .. })
        ));
        let gap = decide(Some(&h), None, &manifest(5, Some(4), "delta"));
        assert_eq!(gap, Decision::Pending { waiting_for: 3 });
    }

    #[test]
    fn same_or_older_sequences_are_forks_or_rollbacks_unless_already_applied() {
        let h = head(4, 4);
        let same = decide(Some(&h), None, &manifest(4, Some(3), "delta"));
        assert!(matches!(
            same,
            Decision::Refuse(ChainError::Fork { sequence: 4, .. })
        ));
        let older = decide(Some(&h), None, &manifest(2, Some(1), "delta"));
        assert!(matches!(
            older,
            Decision::Refuse(ChainError::Rollback { head: 4, .. })
        ));
        let dup = decide(Some(&h), Some(3), &manifest(2, Some(1), "delta"));
        assert_eq!(dup, Decision::Duplicate { position: 3 });
        let old_snapshot = decide(Some(&h), None, &manifest(4, None, "snapshot"));
        assert!(matches!(
            old_snapshot,
            Decision::Refuse(ChainError::Rollback { .. })
        ));
    }
}
