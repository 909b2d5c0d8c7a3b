//! Packagist versions, read as Composer normalizes them and ordered as PHP's
//! `version_compare` orders the normalized forms.
//!
//! `v1.2` becomes `1.2.0.0`; an optional stability (`alpha`/`a`, `beta`/`b`, `RC`,
//! `patch`/`pl`/`p`, `stable`) with numbers, and an optional `dev` mark, follow. Order:
//! `dev < alpha < beta < RC < release < patch`. Branch names (`dev-main`, `1.x-dev`) have
//! no place in that order and are refused.

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ComposerVersion {
    numbers: [u64; 4],
    stage: u8,
    stage_numbers: Vec<u64>,
    /// `false` for a `-dev` build, so that it sorts first.
    not_dev: bool,
}

/// Ranks of the stabilities; fields compare in declaration order.
const DEV: u8 = 0;
const RELEASE: u8 = 4;

impl ComposerVersion {
    pub fn parse(text: &str) -> Result<ComposerVersion, String> {
        let text = text.trim().to_ascii_lowercase();
        let text = text.strip_prefix('v').unwrap_or(&text);
        let (text, dev) = match text.strip_suffix("dev") {
            Some(rest) => (rest.trim_end_matches(['-', '.', '_']), true),
            None => (text, false),
        };
        let numeric_end = text
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(text.len());
        let (numbers, modifier) = text.split_at(numeric_end);
        let modifier = modifier.trim_start_matches(['-', '.', '_']);
        let (stage, stage_numbers) = match modifier_parts(modifier)? {
            (RELEASE, numbers) if dev && modifier.is_empty() => (DEV, numbers),
            parts => parts,
        };
        Ok(ComposerVersion {
            numbers: numbers_of(numbers.trim_end_matches('.'))?,
            stage,
            stage_numbers,
            not_dev: !dev,
        })
    }
}

fn numbers_of(text: &str) -> Result<[u64; 4], String> {
    let parts: Vec<&str> = text.split('.').collect();
    if text.is_empty() || parts.len() > 4 || parts.iter().any(|p| p.is_empty()) {
        return Err(format!("{text:?} is not one to four dot-separated numbers"));
    }
    let mut numbers = [0; 4];
    for (slot, part) in numbers.iter_mut().zip(parts) {
        *slot = part.parse().map_err(|_| format!("{part} is too large"))?;
    }
    Ok(numbers)
}

const STAGES: [(&str, u8); 9] = [
    ("stable", RELEASE),
    ("alpha", 1),
    ("beta", 2),
    ("patch", 5),
    ("rc", 3),
    ("pl", 5),
    ("a", 1),
    ("b", 2),
    ("p", 5),
];

fn modifier_parts(modifier: &str) -> Result<(u8, Vec<u64>), String> {
    if modifier.is_empty() {
        return Ok((RELEASE, Vec::new()));
    }
    let (word, rank) = STAGES
        .iter()
        .find(|(word, _)| modifier.starts_with(word))
        .ok_or_else(|| format!("unknown stability {modifier:?}"))?;
    let numbers = modifier[word.len()..]
        .split(['.', '-'])
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().map_err(|_| format!("{p:?} is not a number")))
        .collect::<Result<_, _>>()?;
    Ok((*rank, numbers))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn composer_order() {
        let v = |t| ComposerVersion::parse(t).unwrap();
        let chain = [
            "1.0.0-dev",
            "1.0.0-alpha1",
            "1.0.0-beta",
            "1.0.0-beta2",
            "1.0.0-RC1",
            "v1.0",
            "1.0.0-p1",
            "1.0.1",
        ];
        for pair in chain.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{pair:?}");
        }
        assert_eq!(v("v2.3.1"), v("2.3.1.0"));
        assert!(ComposerVersion::parse("dev-main").is_err());
    }
}
