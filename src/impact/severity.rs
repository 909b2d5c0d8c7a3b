//! Severity levels, as SLA policies speak of them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How urgent a job is. Ordered: `Low < Medium < High < Critical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::Critical, Level::High, Level::Medium, Level::Low];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }

    /// An advisory database's word (`CRITICAL`, `HIGH`, `MODERATE`, `MEDIUM`, `LOW`, any
    /// case); `medium` for anything else, including no word at all.
    pub fn of_database_word(word: Option<&str>) -> Level {
        match word.map(str::to_ascii_lowercase).as_deref() {
            Some("critical") => Level::Critical,
            Some("high" | "important") => Level::High,
            Some("low" | "negligible") => Level::Low,
            _ => Level::Medium,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Level::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| {
                format!("unknown severity {s:?} (expected critical, high, medium or low)")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_words_map_onto_levels() {
        assert_eq!(Level::of_database_word(Some("CRITICAL")), Level::Critical);
        assert_eq!(Level::of_database_word(Some("moderate")), Level::Medium);
        assert_eq!(Level::of_database_word(Some("High")), Level::High);
        assert_eq!(Level::of_database_word(Some("LOW")), Level::Low);
        assert_eq!(Level::of_database_word(None), Level::Medium);
        assert!(Level::Critical > Level::High && Level::Medium > Level::Low);
        assert_eq!("high".parse::<Level>(), Ok(Level::High));
        assert!("urgent".parse::<Level>().is_err());
    }
}
