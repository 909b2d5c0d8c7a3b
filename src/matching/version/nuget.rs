//! NuGet versions: SemVer 2.0 with an optional fourth number, labels compared without
//! regard to case, missing numbers read as zero (`1.0` equals `1.0.0.0`).

use std::cmp::Ordering;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NuGetVersion {
    numbers: [u64; 4],
    labels: Vec<Label>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Label {
    /// Numeric labels sort before alphanumeric ones.
    Number(u64),
    Text(String),
}

impl NuGetVersion {
    pub fn parse(text: &str) -> Result<NuGetVersion, String> {
        let text = text.trim();
        let without_build = text.split_once('+').map_or(text, |(v, _)| v);
        let (core, pre) = match without_build.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (without_build, None),
        };
        Ok(NuGetVersion {
            numbers: numbers(core)?,
            labels: pre.map(labels).transpose()?.unwrap_or_default(),
        })
    }
}

fn numbers(core: &str) -> Result<[u64; 4], String> {
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return Err(format!("{core:?} must have one to four numbers"));
    }
    let mut numbers = [0; 4];
    for (slot, part) in numbers.iter_mut().zip(&parts) {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{part:?} is not a number"));
        }
        *slot = part.parse().map_err(|_| format!("{part} is too large"))?;
    }
    Ok(numbers)
}

fn labels(pre: &str) -> Result<Vec<Label>, String> {
    pre.split('.').map(label).collect()
}

fn label(text: &str) -> Result<Label, String> {
    let valid = !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !valid {
        return Err(format!("invalid pre-release label {text:?}"));
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map(Label::Number)
            .map_err(|_| format!("label {text} is too large"));
    }
    Ok(Label::Text(text.to_ascii_lowercase()))
}

impl Ord for NuGetVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.numbers.cmp(&other.numbers).then_with(|| {
            match (self.labels.is_empty(), other.labels.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.labels.cmp(&other.labels),
            }
        })
    }
}

impl PartialOrd for NuGetVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn nuget_order() {
        let v = |t| NuGetVersion::parse(t).unwrap();
        assert_eq!(v("1.0"), v("1.0.0.0"));
        assert!(v("1.0.0-Beta") == v("1.0.0-beta"));
        assert!(v("1.0.0-beta.2") < v("1.0.0-beta.11"));
        assert!(v("1.0.0-rc.1") < v("1.0.0"));
        assert!(v("2.29.1") < v("2.29.2"));
        assert!(NuGetVersion::parse("1.x").is_err());
    }
}
