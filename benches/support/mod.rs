//! Deterministic OSV-shaped advisories for the benchmarks, rendered on demand so that a
//! gigabyte of documents never sits in memory or on disk uncompressed.
#![allow(dead_code)]

use std::fs::File;
use std::io::{self, Cursor, Read};
use std::path::Path;
use std::sync::LazyLock;

use anyhow::Context as _;
use serde_json::{json, Value};
use stella_scheduler::bundle::{DocumentSource, MemberPath, NewDocument};
use stella_scheduler::model::{DocumentFormat, DocumentKind};

/// A benchmark's exit: its error chain on stderr and a failing code, or success.
#[allow(clippy::print_stderr)]
pub fn finish(bench: &str, result: anyhow::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{bench} bench failed: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// How long the generated advisories are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// About 5 KB: long details, like big GHSA records.
    Full,
    /// About 2 KB: the average of the public OSV database.
    Compact,
}

/// Document number `index` as a bundle member, rendered when the writer reads it.
pub fn new_document(index: u64, size: Size) -> anyhow::Result<NewDocument> {
    let path = format!("advisories/{}.json", ghsa_id(index));
    Ok(NewDocument {
        path: MemberPath::parse(path.as_bytes())?,
        kind: DocumentKind::Advisory,
        format: DocumentFormat::Osv,
        subject: None,
        source: Box::new(GeneratedAdvisory { index, size }),
    })
}

/// Bytes the zstd stream of `bundle` decompresses to.
pub fn decompressed_size(bundle: &Path) -> anyhow::Result<u64> {
    let file = File::open(bundle).with_context(|| format!("opening {bundle:?}"))?;
    let mut decoder = zstd::stream::read::Decoder::new(file)?;
    Ok(io::copy(&mut decoder, &mut io::sink())?)
}

/// Advisory number `index`, rendered each time it is opened.
struct GeneratedAdvisory {
    index: u64,
    size: Size,
}

impl DocumentSource for GeneratedAdvisory {
    fn open(&self) -> io::Result<Box<dyn Read + '_>> {
        Ok(Box::new(Cursor::new(render_advisory(
            self.index, self.size,
        ))))
    }

    fn describe(&self) -> String {
        format!("generated advisory #{}", self.index)
    }
}

/// splitmix64: small, fast, and the same everywhere, which is all a fixture needs.
/// Shared by every benchmark's generator.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x5eed_0fa1_1ad0_b0d1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `low..high`.
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low)
    }

    /// An index below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// A number in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.range(0, items.len() as u64) as usize]
    }

    pub fn hex(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b"0123456789abcdef"[self.range(0, 16) as usize]))
            .collect()
    }
}

const GHSA_ALPHABET: &[u8] = b"23456789cfghjmpqrvwx";

/// A GHSA-shaped id unique per index: the first six characters spell the index in base
/// 20 (enough for 64 million documents), the rest are pseudo-random.
fn ghsa_id(index: u64) -> String {
    let mut rng = Rng::new(index.wrapping_mul(31));
    let mut chars = Vec::with_capacity(12);
    let mut rest = index;
    for _ in 0..6 {
        chars.push(GHSA_ALPHABET[(rest % 20) as usize]);
        rest /= 20;
    }
    for _ in 0..6 {
        chars.push(GHSA_ALPHABET[rng.range(0, 20) as usize]);
    }
    let text = String::from_utf8_lossy(&chars).into_owned();
    format!("GHSA-{}-{}-{}", &text[0..4], &text[4..8], &text[8..12])
}

pub fn render_advisory(index: u64, size: Size) -> Vec<u8> {
    let mut rng = Rng::new(index);
    let id = ghsa_id(index);
    let year = rng.range(2015, 2027);
    let doc = json!({
        "schema_version": "1.6.0",
        "id": id,
        "modified": timestamp(&mut rng, year + 1),
        "published": timestamp(&mut rng, year),
        "aliases": aliases(&mut rng, year),
        "summary": sentence(&mut rng, 6, 14),
        "details": details(&mut rng, size),
        "severity": [{"type": "CVSS_V3", "score": cvss(&mut rng)}],
        "affected": affected(&mut rng),
        "references": references(&mut rng, &id),
        "database_specific": {
            "cwe_ids": [format!("CWE-{}", rng.range(20, 1400))],
            "github_reviewed": true,
            "github_reviewed_at": timestamp(&mut rng, year),
            "nvd_published_at": timestamp(&mut rng, year),
            "severity": rng.pick(&["LOW", "MODERATE", "HIGH", "CRITICAL"]),
        },
    });
    serde_json::to_vec_pretty(&doc).expect("a JSON value always serializes")
}

fn timestamp(rng: &mut Rng, year: u64) -> String {
    let (month, day) = (rng.range(1, 13), rng.range(1, 29));
    let (hour, minute, second) = (rng.range(0, 24), rng.range(0, 60), rng.range(0, 60));
    format!("{year}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
}

fn aliases(rng: &mut Rng, year: u64) -> Vec<String> {
    (0..rng.range(1, 3))
        .map(|_| format!("CVE-{year}-{}", rng.range(1000, 60000)))
        .collect()
}

/// Words the generated summaries and details are drawn from.
const VOCABULARY: &str = "\
    attacker remote crafted request header parser buffer overflow allows denial of service \
    via the a an in when before version versions affected package function input validation \
    improper sanitization path traversal memory exhaustion unbounded recursion \
    deserialization untrusted data could lead to arbitrary code execution cross-site \
    scripting injection query token session cookie redirect proxy authorization \
    authentication bypass certificate verification TLS handshake timing side channel leak \
    sensitive information log file archive extraction symlink race condition integer \
    underflow heap use-after-free null pointer dereference regular expression backtracking \
    catastrophic upload template engine configuration default permissions privilege \
    escalation user server client library module is are was has been fixed patched upgrade \
    users should workaround disable feature option which and or not this that with by for on \
    from it its maintainers thank reporting issue responsibly disclosed impact";

static WORDS: LazyLock<Vec<&str>> = LazyLock::new(|| VOCABULARY.split_whitespace().collect());

fn sentence(rng: &mut Rng, min_words: u64, max_words: u64) -> String {
    let words: Vec<&str> = (0..rng.range(min_words, max_words))
        .map(|_| rng.pick(&WORDS))
        .collect();
    let mut text = words.join(" ");
    if let Some(first) = text.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    text
}

/// Several paragraphs, some with a code span, a version and a bullet list: about 2.5 KB
/// for [`Size::Full`], a few hundred bytes for [`Size::Compact`].
fn details(rng: &mut Rng, size: Size) -> String {
    let mut out = String::new();
    let (low, high) = match size {
        Size::Full => (3, 7),
        Size::Compact => (1, 2),
    };
    for _ in 0..rng.range(low, high) {
        for _ in 0..rng.range(3, 6) {
            out.push_str(&sentence(rng, 8, 22));
            out.push_str(". ");
        }
        out.push_str(&format!(
            "See `{}()` in {}.{}.{}.\n\n",
            rng.pick(&WORDS),
            rng.range(0, 9),
            rng.range(0, 30),
            rng.range(0, 20)
        ));
    }
    out.push_str("## Workarounds\n\n");
    for _ in 0..rng.range(1, 4) {
        out.push_str(&format!("* {}.\n", sentence(rng, 5, 12)));
    }
    out
}

fn cvss(rng: &mut Rng) -> String {
    let mut v = String::from("CVSS:3.1");
    for (metric, values) in [
        ("AV", &["N", "A", "L", "P"][..]),
        ("AC", &["L", "H"]),
        ("PR", &["N", "L", "H"]),
        ("UI", &["N", "R"]),
        ("S", &["U", "C"]),
        ("C", &["N", "L", "H"]),
        ("I", &["N", "L", "H"]),
        ("A", &["N", "L", "H"]),
    ] {
        v.push_str(&format!("/{metric}:{}", rng.pick(values)));
    }
    v
}

const ECOSYSTEMS: &[&str] = &[
    "PyPI",
    "npm",
    "Go",
    "Maven",
    "crates.io",
    "RubyGems",
    "NuGet",
];

/// One to three packages, each with one to three ranges of introduced/fixed events.
fn affected(rng: &mut Rng) -> Vec<Value> {
    (0..rng.range(1, 4))
        .map(|_| {
            let name = format!("{}-{}", rng.pick(&WORDS), rng.pick(&WORDS)).to_lowercase();
            let ranges: Vec<Value> = (0..rng.range(1, 4)).map(|_| range(rng)).collect();
            json!({
                "package": {"ecosystem": rng.pick(ECOSYSTEMS), "name": name},
                "ranges": ranges,
                "versions": versions(rng),
                "database_specific": {"source": format!(
                    "https://github.com/github/advisory-database/blob/main/advisories/{}.json",
                    rng.hex(12)
                )},
            })
        })
        .collect()
}

fn range(rng: &mut Rng) -> Value {
    let major = rng.range(0, 12);
    let introduced = format!("{major}.{}.0", rng.range(0, 10));
    let fixed = format!("{major}.{}.{}", rng.range(10, 40), rng.range(0, 15));
    json!({
        "type": rng.pick(&["ECOSYSTEM", "SEMVER"]),
        "events": [{"introduced": introduced}, {"fixed": fixed}],
    })
}

fn versions(rng: &mut Rng) -> Vec<String> {
    let major = rng.range(0, 12);
    (0..rng.range(0, 12))
        .map(|minor| format!("{major}.{minor}.{}", rng.range(0, 9)))
        .collect()
}

fn references(rng: &mut Rng, id: &str) -> Vec<Value> {
    let project = format!("{}/{}", rng.pick(&WORDS), rng.pick(&WORDS));
    let mut refs = vec![
        json!({"type": "ADVISORY", "url": format!("https://github.com/advisories/{id}")}),
        json!({"type": "PACKAGE", "url": format!("https://github.com/{project}")}),
    ];
    for _ in 0..rng.range(1, 5) {
        let url = format!("https://github.com/{project}/commit/{}", rng.hex(40));
        refs.push(json!({"type": "FIX", "url": url}));
    }
    refs
}
