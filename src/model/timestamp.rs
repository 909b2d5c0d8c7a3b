//! Instants taken from documents, normalized to UTC.
//!
//! Documents write RFC 3339 times with any offset (`-06:00`, `Z`). Comparing those strings
//! would order them wrongly, and VEX precedence depends on that order, so every time is parsed
//! once here and written back in UTC.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// An RFC 3339 instant, held in UTC and ordered by time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// The instant as a UTC date-time.
    pub fn as_utc(&self) -> OffsetDateTime {
        self.0
    }
}

impl FromStr for Timestamp {
    type Err = time::error::Parse;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parsed = OffsetDateTime::parse(s, &Rfc3339)?;
        Ok(Self(parsed.to_offset(UtcOffset::UTC)))
    }
}

impl TryFrom<String> for Timestamp {
    type Error = time::error::Parse;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Timestamp> for String {
    fn from(t: Timestamp) -> Self {
        t.to_string()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0.format(&Rfc3339).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn offsets_are_normalized_to_utc() {
        let t: Timestamp = "2023-01-16T19:07:16.853479631-06:00".parse().unwrap();
        assert_eq!(t.to_string(), "2023-01-17T01:07:16.853479631Z");
    }

    #[test]
    fn order_follows_the_instant_not_the_text() {
        let early: Timestamp = "2023-12-05T05:04:34Z".parse().unwrap();
        let late: Timestamp = "2023-12-04T23:10:00-06:00".parse().unwrap();
        assert!(
            early < late,
            "23:10 at -06:00 is 05:10 UTC, after 05:04 UTC"
        );
    }

    #[test]
    fn serde_round_trips_through_the_utc_text() {
        let t: Timestamp = "2022-03-03T11:00:00.000Z".parse().unwrap();
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"2022-03-03T11:00:00Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
    }

    #[test]
    fn non_rfc3339_text_is_refused() {
        for bad in ["2023-01-01", "yesterday", "2023-01-01T10:00:00"] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad} must be refused");
        }
    }
}
