//! Matching benchmark (issue 4, section 7).
//!
//! Part 1, in memory: 2,000 artifacts of 200 components against 200,000 advisories, built
//! with the model types and matched with `matching::findings` on one thread, as the
//! `findings` command does. Reports the index build, the total, per-artifact p50 and p99,
//! and the findings. The issue's target: every finding in at most 60 s on this machine.
//!
//! Part 2, end to end: a smaller world (200 × 200 against 20,000 advisories) rendered as
//! OSV, CycloneDX and OpenVEX documents, signed into three bundles, ingested by the real
//! binary, then `findings --json` timed as a user runs it; the same store is also read
//! in-process, phase by phase, to show what reading and parsing the stored documents
//! costs next to the matching itself. The command's findings must equal the in-memory
//! findings for the same world, or the bench fails.
//!
//! The world is synthetic but shaped like OSV (see [`world`]). Sizes: `BENCH_ARTIFACTS`,
//! `BENCH_COMPONENTS`, `BENCH_ADVISORIES`, `BENCH_E2E_ARTIFACTS`, `BENCH_E2E_ADVISORIES`.
//! Figures only: nothing here asserts a time.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Output};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context as _};
use stella_scheduler::matching::{
    findings, AdvisoryIndex, Finding, IssuedStatement, Knowledge, Status, VexIndex,
};

const BINARY: &str = env!("CARGO_BIN_EXE_stella-scheduler");
const TARGET_SECS: f64 = 60.0;
const E2E_REPETITIONS: usize = 3;

fn main() -> ExitCode {
    support::finish("matching", run())
}

fn size(name: &str, default: usize) -> anyhow::Result<usize> {
    std::env::var(name).map_or(Ok(default), |v| {
        v.parse().with_context(|| format!("{name}={v}"))
    })
}

fn run() -> anyhow::Result<()> {
    let shape = world::Shape {
        artifacts: size("BENCH_ARTIFACTS", 2_000)?,
        components: size("BENCH_COMPONENTS", 200)?,
        advisories: size("BENCH_ADVISORIES", 200_000)?,
    };
    let in_memory = in_memory(&shape)?;
    let e2e_shape = world::Shape {
        artifacts: size("BENCH_E2E_ARTIFACTS", 200)?,
        components: shape.components,
        advisories: size("BENCH_E2E_ADVISORIES", 20_000)?,
    };
    let e2e = end_to_end::run(&e2e_shape)?;
    report(&shape, &in_memory, &e2e_shape, &e2e);
    Ok(())
}

/// What part 1 measured.
struct InMemory {
    generate: Duration,
    index: Duration,
    kept: usize,
    withdrawn: usize,
    statements: usize,
    total: Duration,
    per_artifact: Vec<Duration>,
    counts: Counts,
    lookups: Lookups,
    peak_rss_mib: Option<f64>,
}

fn in_memory(shape: &world::Shape) -> anyhow::Result<InMemory> {
    println!(
        "generating {} artifacts x {} components, {} advisories",
        shape.artifacts, shape.components, shape.advisories
    );
    let started = Instant::now();
    let world = world::World::generate(shape);
    let generate = started.elapsed();
    let statements = world.statements.len();
    let started = Instant::now();
    let advisories = AdvisoryIndex::new(world.advisories);
    let vex = VexIndex::new(world.statements);
    let index = started.elapsed();
    println!("index built in {:.2} s; matching", index.as_secs_f64());
    let lookups = Lookups::of(&advisories, &world.artifacts);
    let (found, per_artifact, total) = match_all(&advisories, &vex, &world.artifacts);
    Ok(InMemory {
        generate,
        index,
        kept: advisories.len(),
        withdrawn: advisories.withdrawn(),
        statements,
        total,
        per_artifact,
        counts: Counts::of(&found),
        lookups,
        peak_rss_mib: peak_rss_mib(),
    })
}

fn everyone(_: &IssuedStatement) -> bool {
    true
}

/// Every artifact's findings, one after the other on this thread, each timed.
fn match_all(
    advisories: &AdvisoryIndex,
    vex: &VexIndex,
    artifacts: &[world::Artifact],
) -> (Vec<Finding>, Vec<Duration>, Duration) {
    let knowledge = Knowledge {
        advisories,
        vex,
        trust: &everyone,
    };
    let mut all = Vec::new();
    let mut per_artifact = Vec::with_capacity(artifacts.len());
    let started = Instant::now();
    for artifact in artifacts {
        let one = Instant::now();
        let found = findings(&artifact.digest, &artifact.components, knowledge);
        per_artifact.push(one.elapsed());
        all.extend(found);
    }
    (all, per_artifact, started.elapsed())
}

/// The findings by status, and how many components have at least one affected finding.
#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    total: usize,
    affected: usize,
    not_affected: usize,
    fixed: usize,
    under_investigation: usize,
    unknown: usize,
    affected_components: usize,
    vex_decided: usize,
}

impl Counts {
    fn of(found: &[Finding]) -> Counts {
        let mut counts = Counts {
            total: found.len(),
            ..Counts::default()
        };
        let mut components = std::collections::BTreeSet::new();
        for finding in found {
            counts.add(finding.status);
            counts.vex_decided += usize::from(finding.evidence.vex.iter().any(|e| e.decisive));
            if finding.status == Status::Affected {
                components.insert((&finding.artifact, &finding.component));
            }
        }
        counts.affected_components = components.len();
        counts
    }

    fn add(&mut self, status: Status) {
        let slot = match status {
            Status::Affected => &mut self.affected,
            Status::NotAffected => &mut self.not_affected,
            Status::Fixed => &mut self.fixed,
            Status::UnderInvestigation => &mut self.under_investigation,
            Status::Unknown => &mut self.unknown,
        };
        *slot += 1;
    }
}

/// How many advisory entries the index hands each component (its own key and, for
/// distribution packages, its source package): the work matching does per component.
#[derive(Debug, Default)]
struct Lookups {
    mean: f64,
    p99: usize,
    max: usize,
}

impl Lookups {
    fn of(index: &AdvisoryIndex, artifacts: &[world::Artifact]) -> Lookups {
        use stella_scheduler::matching::ecosystem::component_lookups;
        use stella_scheduler::matching::Purl;
        let mut hits: Vec<usize> = Vec::new();
        for component in artifacts.iter().flat_map(|a| &a.components) {
            let purl: Purl = component.purl.as_deref().unwrap_or("").parse().unwrap();
            let lookups = component_lookups(&purl, component.version.as_deref());
            hits.push(lookups.iter().map(|l| index.lookup(&l.key).len()).sum());
        }
        hits.sort_unstable();
        Lookups {
            mean: hits.iter().sum::<usize>() as f64 / hits.len().max(1) as f64,
            p99: percentile(&hits, 0.99),
            max: hits.last().copied().unwrap_or(0),
        }
    }
}

/// The nearest-rank percentile of sorted values.
fn percentile<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// This process's peak resident set (Linux `VmHWM`), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn row(measure: &str, value: String, target: &str) {
    println!("| {measure} | {value} | {target} |");
}

fn report(shape: &world::Shape, m: &InMemory, e2e_shape: &world::Shape, e: &end_to_end::Figures) {
    let mut sorted = m.per_artifact.clone();
    sorted.sort_unstable();
    let secs = m.total.as_secs_f64();
    println!("\n## in memory, one thread\n");
    println!("| measure | value | target |\n|---|---|---|");
    let world = format!(
        "{} artifacts x {} components; {} advisories ({} withdrawn, {} kept); {} VEX statements",
        shape.artifacts, shape.components, shape.advisories, m.withdrawn, m.kept, m.statements
    );
    row("world", world, "-");
    let generate = format!("{:.2} s", m.generate.as_secs_f64());
    row("generating the world (not matching)", generate, "-");
    let index = format!("{:.2} s", m.index.as_secs_f64());
    row("index build (advisories and VEX)", index, "-");
    let total = format!("{secs:.2} s");
    row(
        "all findings, all artifacts",
        total,
        &format!("<= {TARGET_SECS} s"),
    );
    let per_artifact = format!(
        "{:.2} / {:.2} / {:.2} ms",
        ms(percentile(&sorted, 0.5)),
        ms(percentile(&sorted, 0.99)),
        ms(sorted.last().copied().unwrap_or_default())
    );
    row("per artifact p50 / p99 / max", per_artifact, "-");
    report_findings(&m.counts, shape);
    let l = &m.lookups;
    let lookups = format!("{:.1} / {} / {}", l.mean, l.p99, l.max);
    row(
        "index entries per component: mean / p99 / max",
        lookups,
        "-",
    );
    if let Some(rss) = m.peak_rss_mib {
        row(
            "peak RSS of the bench process",
            format!("{rss:.0} MiB"),
            "-",
        );
    }
    end_to_end::report(e2e_shape, e);
    let met = if secs <= TARGET_SECS {
        "MET"
    } else {
        "NOT MET"
    };
    println!("\nall findings in <= {TARGET_SECS} s: {met} ({secs:.2} s)");
}

fn report_findings(c: &Counts, shape: &world::Shape) {
    let statuses = format!(
        "{} (affected {}, unknown {}, not_affected {}, fixed {}, under_investigation {})",
        c.total, c.affected, c.unknown, c.not_affected, c.fixed, c.under_investigation
    );
    row("findings", statuses, "-");
    let per_artifact = c.total as f64 / shape.artifacts.max(1) as f64;
    row(
        "findings per artifact, mean",
        format!("{per_artifact:.1}"),
        "-",
    );
    row(
        "findings whose status VEX decided",
        c.vex_decided.to_string(),
        "-",
    );
    let components = shape.artifacts * shape.components;
    let share = 100.0 * c.affected_components as f64 / components.max(1) as f64;
    let affected = format!("{} of {components} ({share:.1}%)", c.affected_components);
    row("components with an affected finding", affected, "-");
}

/// A synthetic world shaped like OSV and like container images.
///
/// Advisories: eleven ecosystems in proportions close to the OSV database (Debian and
/// npm the largest); ids per database (GHSA, PYSEC, GO, RUSTSEC, DEBIAN-CVE, UBUNTU-CVE,
/// ALPINE-CVE, RHSA) with a CVE alias; a quarter of the flaws published twice by two
/// databases (GHSA and PYSEC, GO and GHSA, RUSTSEC and GHSA), which matching merges; one
/// to three ranges per entry (introduced/fixed, some `last_affected`, some without a fix)
/// over each package's own release history, in the ecosystem's version syntax (Maven
/// `.Final`, Debian epochs and revisions, Alpine `-rN`, RPM epochs, Go `v` and
/// pseudo-versions, PyPI `1.2`); half of the language entries also enumerate their
/// versions, as osv.dev exports do; distribution entries per release (`Debian:11`,
/// `Alpine:v3.19`, ...); Go GHSA records sometimes naming a package inside the module;
/// 1% withdrawn. Which packages advisories name is skewed the way OSV is: in distributions
/// a few packages (think `linux`) carry thousands of records; in language ecosystems
/// the skew is milder.
///
/// Artifacts: ten image templates (Debian, Ubuntu, Alpine, RHEL or distroless, with one
/// or two language ecosystems), half the components from the distribution (40% of those
/// binary packages pointing at their source package with `upstream`), 60% of them drawn
/// from the quarter of the packages with the most advisories; 70% at their latest
/// release, the rest a few releases behind; 0.5% of language components without a
/// version. VEX: statements from three issuers about 1.5% of the flaws, for the package
/// without a version.
mod world {
    use std::collections::BTreeSet;

    use sha2::{Digest as _, Sha256};
    use stella_scheduler::matching::IssuedStatement;
    use stella_scheduler::model::{
        Advisory, Affected, Component, Digest, Package, Range, RangeEvent, RangeKind, Severity,
        Timestamp, VexProduct, VexStatement, VexStatus, Vulnerability,
    };

    pub const VEX_FEED: &str = "bench-vex";
    pub const ISSUERS: [&str; 3] = ["Vendor A", "Vendor B", "Distro Security Team"];

    #[derive(Clone, Copy, Debug)]
    pub struct Shape {
        pub artifacts: usize,
        pub components: usize,
        pub advisories: usize,
    }

    pub struct Artifact {
        pub name: String,
        pub digest: Digest,
        pub components: Vec<Component>,
    }

    pub struct World {
        pub advisories: Vec<Advisory>,
        pub statements: Vec<IssuedStatement>,
        pub artifacts: Vec<Artifact>,
    }

    impl World {
        pub fn generate(shape: &Shape) -> World {
            let catalog = Catalog::new(shape.advisories);
            let mut rng = Rng::new(0x0a11_f1a3);
            let (advisories, statements) = advisories(&catalog, shape.advisories, &mut rng);
            let artifacts = (0..shape.artifacts)
                .map(|i| artifact(&catalog, i, shape.components, &mut rng))
                .collect();
            World {
                advisories,
                statements,
                artifacts,
            }
        }
    }

    pub use super::support::Rng;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Eco {
        Npm,
        PyPI,
        Maven,
        Go,
        Cargo,
        RubyGems,
        NuGet,
        Debian,
        Ubuntu,
        Alpine,
        RedHat,
    }

    /// One ecosystem's part of the world.
    struct EcoInfo {
        eco: Eco,
        /// Percent of the advisories.
        share: usize,
        /// Packages with advisories, at 200,000 advisories (scaled with the count).
        packages: usize,
        /// Share of draws favouring popular packages (log-uniform rank); the rest uniform.
        skew: f64,
    }

    const ECOSYSTEMS: [EcoInfo; 11] = [
        eco(Eco::Debian, 22, 4_000, 1.0),
        eco(Eco::Ubuntu, 10, 4_000, 1.0),
        eco(Eco::Alpine, 7, 2_000, 1.0),
        eco(Eco::RedHat, 6, 2_500, 1.0),
        eco(Eco::Npm, 18, 12_000, 0.3),
        eco(Eco::PyPI, 13, 6_000, 0.5),
        eco(Eco::Maven, 9, 5_000, 0.5),
        eco(Eco::Go, 6, 3_000, 0.5),
        eco(Eco::Cargo, 3, 1_500, 0.4),
        eco(Eco::RubyGems, 3, 1_000, 0.4),
        eco(Eco::NuGet, 3, 1_000, 0.4),
    ];

    const fn eco(eco: Eco, share: usize, packages: usize, skew: f64) -> EcoInfo {
        EcoInfo {
            eco,
            share,
            packages,
            skew,
        }
    }

    /// Enough packages per ecosystem for an artifact to draw 200 distinct ones.
    const MIN_POOL: usize = 800;

    /// Every ecosystem's packages and their release histories.
    struct Catalog {
        pools: Vec<Vec<Vec<[u32; 3]>>>,
    }

    impl Catalog {
        fn new(advisories: usize) -> Catalog {
            let scale = advisories as f64 / 200_000.0;
            let pools = ECOSYSTEMS
                .iter()
                .enumerate()
                .map(|(e, info)| {
                    let count = ((info.packages as f64 * scale) as usize).max(MIN_POOL);
                    (0..count)
                        .map(|n| history(&mut Rng::new((e as u64) << 32 | n as u64)))
                        .collect()
                })
                .collect();
            Catalog { pools }
        }

        fn info(eco: Eco) -> (usize, &'static EcoInfo) {
            let at = ECOSYSTEMS.iter().position(|i| i.eco == eco).unwrap();
            (at, &ECOSYSTEMS[at])
        }

        fn history(&self, eco: Eco, package: usize) -> &[[u32; 3]] {
            &self.pools[Self::info(eco).0][package]
        }

        fn uniform(&self, eco: Eco, rng: &mut Rng) -> usize {
            rng.below(self.pools[Self::info(eco).0].len())
        }

        /// A package for an image: 60% from the quarter of the packages with the most
        /// advisories, evenly, the rest from all of them. Images do hold the packages
        /// advisories name most, but not each the one with the most (a Debian image has
        /// `glibc` and `openssl`, rarely `linux`).
        fn installed(&self, eco: Eco, rng: &mut Rng) -> usize {
            let count = self.pools[Self::info(eco).0].len();
            match rng.chance(0.6) {
                true => rng.below(count / 4),
                false => rng.below(count),
            }
        }

        /// A package an advisory names: popular ones more often.
        fn draw(&self, eco: Eco, rng: &mut Rng) -> usize {
            let (at, info) = Self::info(eco);
            let count = self.pools[at].len();
            if rng.chance(info.skew) {
                ((count as f64).powf(rng.unit()) as usize).saturating_sub(1)
            } else {
                rng.below(count)
            }
        }
    }

    /// 8 to 63 releases, each a patch, minor or (rarely) major step.
    fn history(rng: &mut Rng) -> Vec<[u32; 3]> {
        let mut version = [rng.below(3) as u32, rng.below(5) as u32, 0];
        let mut out = vec![version];
        for _ in 0..7 + rng.below(56) {
            let step = rng.unit();
            version = match step {
                s if s < 0.08 => [version[0] + 1, 0, 0],
                s if s < 0.35 => [version[0], version[1] + 1, 0],
                _ => [version[0], version[1], version[2] + 1],
            };
            out.push(version);
        }
        out
    }

    const SYLLABLES: [&str; 32] = [
        "ab", "bel", "cor", "dex", "el", "fin", "gor", "hex", "io", "jun", "ka", "lum", "mo",
        "nex", "or", "pix", "qua", "ry", "sol", "tor", "ul", "vi", "wex", "xo", "yal", "zen",
        "ark", "bit", "cyr", "dot", "eon", "fox",
    ];

    /// A readable name unique per number.
    fn word(n: usize) -> String {
        let a = SYLLABLES[n % 32];
        let b = SYLLABLES[(n / 32) % 32];
        let rest = n / 1024;
        if rest == 0 {
            format!("{a}{b}")
        } else {
            format!("{a}{b}{rest}")
        }
    }

    /// The package's name as an advisory writes it.
    fn advisory_name(eco: Eco, n: usize) -> String {
        let name = word(n);
        match eco {
            Eco::Npm if n % 5 == 0 => format!("@{}/{name}", word(n / 5 + 7)),
            Eco::PyPI if n % 6 == 0 => format!("Py_{name}"),
            Eco::Maven => format!("org.{}:{name}-core", word(n / 4 + 3)),
            Eco::Go => format!("github.com/{}/{name}", word(n / 3 + 11)),
            Eco::NuGet => format!("Acme.{name}"),
            _ => name,
        }
    }

    /// A version as the ecosystem writes it; Go purls add a `v`.
    fn version_text(eco: Eco, n: usize, release: usize, v: [u32; 3], purl: bool) -> String {
        let [a, b, c] = v;
        match eco {
            Eco::Go if purl => format!("v{a}.{b}.{c}"),
            Eco::PyPI if c == 0 => format!("{a}.{b}"),
            Eco::Maven if n % 5 == 0 => format!("{a}.{b}.{c}.Final"),
            Eco::Debian | Eco::Ubuntu => {
                let epoch = if n % 7 == 0 { "1:" } else { "" };
                format!("{epoch}{a}.{b}.{c}-{}", 1 + release % 3)
            }
            Eco::Alpine => format!("{a}.{b}.{c}-r{}", release % 4),
            Eco::RedHat if !purl && n % 7 == 0 => format!("1:{a}.{b}.{c}-{}.el9", 1 + release % 5),
            Eco::RedHat => format!("{a}.{b}.{c}-{}.el9", 1 + release % 5),
            _ => format!("{a}.{b}.{c}"),
        }
    }

    fn pick_ecosystem(rng: &mut Rng) -> Eco {
        let mut roll = rng.below(100);
        for info in &ECOSYSTEMS {
            if roll < info.share {
                return info.eco;
            }
            roll -= info.share;
        }
        Eco::Debian
    }

    /// One flaw: a CVE in one package, published by one or two databases.
    struct Flaw {
        number: usize,
        eco: Eco,
        package: usize,
        cve: String,
        year: usize,
    }

    fn advisories(
        catalog: &Catalog,
        count: usize,
        rng: &mut Rng,
    ) -> (Vec<Advisory>, Vec<IssuedStatement>) {
        let mut out = Vec::with_capacity(count);
        let mut statements = Vec::new();
        let mut ghsa = 0;
        let mut number = 0;
        while out.len() < count {
            let eco = pick_ecosystem(rng);
            let year = 2015 + number % 11;
            let flaw = Flaw {
                number,
                eco,
                package: catalog.draw(eco, rng),
                cve: format!("CVE-{year}-{}", 10_000 + number),
                year,
            };
            for database in databases(eco, rng) {
                out.push(advisory(catalog, &flaw, database, &mut ghsa, rng));
            }
            if rng.chance(0.015) {
                statements.push(statement(&flaw, rng));
            }
            number += 1;
        }
        out.truncate(count);
        (out, statements)
    }

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Database {
        Ghsa,
        Pysec,
        GoVulnDb,
        RustSec,
        Distro,
    }

    /// The databases that publish a flaw of `eco`: the primary one and, for a quarter of
    /// the flaws where a second database covers the ecosystem, that one too.
    fn databases(eco: Eco, rng: &mut Rng) -> Vec<Database> {
        let (primary, partner) = match eco {
            Eco::PyPI => (Database::Ghsa, Some(Database::Pysec)),
            Eco::Go => (Database::GoVulnDb, Some(Database::Ghsa)),
            Eco::Cargo => (Database::RustSec, Some(Database::Ghsa)),
            Eco::Debian | Eco::Ubuntu | Eco::Alpine | Eco::RedHat => (Database::Distro, None),
            _ => (Database::Ghsa, None),
        };
        let mut out = vec![primary];
        out.extend(partner.filter(|_| rng.chance(0.25)));
        out
    }

    const GHSA_ALPHABET: &[u8] = b"23456789cfghjmpqrvwx";

    fn ghsa_id(n: usize) -> String {
        let mut rest = n;
        let chars: String = (0..12)
            .map(|_| {
                let c = GHSA_ALPHABET[rest % 20] as char;
                rest /= 20;
                c
            })
            .collect();
        format!("GHSA-{}-{}-{}", &chars[0..4], &chars[4..8], &chars[8..12])
    }

    fn advisory_id(flaw: &Flaw, database: Database, ghsa: &mut usize) -> String {
        let (year, n) = (flaw.year, flaw.number);
        match (database, flaw.eco) {
            (Database::Ghsa, _) => {
                *ghsa += 1;
                ghsa_id(*ghsa)
            }
            (Database::Pysec, _) => format!("PYSEC-{year}-{n}"),
            (Database::GoVulnDb, _) => format!("GO-{year}-{n}"),
            (Database::RustSec, _) => format!("RUSTSEC-{year}-{n}"),
            (_, Eco::Debian) => format!("DEBIAN-{}", flaw.cve),
            (_, Eco::Ubuntu) => format!("UBUNTU-{}", flaw.cve),
            (_, Eco::Alpine) => format!("ALPINE-{}", flaw.cve),
            _ => format!("RHSA-{year}:{n}"),
        }
    }

    fn timestamp(rng: &mut Rng, year: usize) -> Timestamp {
        let (month, day, hour) = (1 + rng.below(12), 1 + rng.below(28), rng.below(24));
        format!("{year}-{month:02}-{day:02}T{hour:02}:00:00Z")
            .parse()
            .unwrap()
    }

    fn advisory(
        catalog: &Catalog,
        flaw: &Flaw,
        database: Database,
        ghsa: &mut usize,
        rng: &mut Rng,
    ) -> Advisory {
        let ghsa_record = database == Database::Ghsa;
        Advisory {
            id: advisory_id(flaw, database, ghsa),
            schema_version: Some("1.6.0".to_owned()),
            aliases: vec![flaw.cve.clone()],
            upstream: Vec::new(),
            modified: timestamp(rng, flaw.year + 1),
            published: None,
            withdrawn: rng.chance(0.01).then(|| timestamp(rng, flaw.year + 2)),
            summary: Some(format!(
                "synthetic flaw {} in package {}",
                flaw.number, flaw.package
            )),
            severity: if ghsa_record {
                vec![cvss(rng)]
            } else {
                Vec::new()
            },
            database_severity: ghsa_record
                .then(|| ["low", "moderate", "high", "critical"][rng.below(4)].to_owned()),
            affected: entries(catalog, flaw, database, rng),
        }
    }

    fn cvss(rng: &mut Rng) -> Severity {
        let pick = |rng: &mut Rng, values: &[&str]| values[rng.below(values.len())].to_owned();
        let score = format!(
            "CVSS:3.1/AV:{}/AC:{}/PR:{}/UI:{}/S:U/C:{}/I:{}/A:{}",
            pick(rng, &["N", "A", "L"]),
            pick(rng, &["L", "H"]),
            pick(rng, &["N", "L", "H"]),
            pick(rng, &["N", "R"]),
            pick(rng, &["N", "L", "H"]),
            pick(rng, &["N", "L", "H"]),
            pick(rng, &["N", "L", "H"]),
        );
        Severity {
            kind: "CVSS_V3".to_owned(),
            score,
        }
    }

    /// Distribution release suffixes of the OSV ecosystem names.
    fn releases(eco: Eco) -> &'static [&'static str] {
        match eco {
            Eco::Debian => &["Debian:11", "Debian:12"],
            Eco::Ubuntu => &["Ubuntu:20.04:LTS", "Ubuntu:22.04:LTS"],
            Eco::Alpine => &["Alpine:v3.18", "Alpine:v3.19"],
            Eco::RedHat => &["Red Hat:enterprise_linux:9::appstream"],
            _ => &[],
        }
    }

    fn osv_ecosystem(eco: Eco) -> &'static str {
        match eco {
            Eco::Npm => "npm",
            Eco::PyPI => "PyPI",
            Eco::Maven => "Maven",
            Eco::Go => "Go",
            Eco::Cargo => "crates.io",
            Eco::RubyGems => "RubyGems",
            Eco::NuGet => "NuGet",
            Eco::Debian => "Debian",
            Eco::Ubuntu => "Ubuntu",
            Eco::Alpine => "Alpine",
            Eco::RedHat => "Red Hat",
        }
    }

    fn entries(catalog: &Catalog, flaw: &Flaw, database: Database, rng: &mut Rng) -> Vec<Affected> {
        let per_release = releases(flaw.eco);
        if !per_release.is_empty() {
            let both = rng.chance(0.7);
            let chosen = per_release
                .iter()
                .enumerate()
                .filter(|(i, _)| both || *i == per_release.len() - 1);
            return chosen
                .map(|(_, ecosystem)| entry(catalog, flaw, flaw.package, ecosystem, 1, rng))
                .collect();
        }
        let mut out = vec![language_entry(catalog, flaw, flaw.package, database, rng)];
        if rng.chance(0.1) {
            let other = catalog.draw(flaw.eco, rng);
            out.push(language_entry(catalog, flaw, other, database, rng));
        }
        out
    }

    fn language_entry(
        catalog: &Catalog,
        flaw: &Flaw,
        package: usize,
        database: Database,
        rng: &mut Rng,
    ) -> Affected {
        let ranges = match rng.unit() {
            r if r < 0.6 => 1,
            r if r < 0.9 => 2,
            _ => 3,
        };
        let ecosystem = osv_ecosystem(flaw.eco);
        let mut affected = entry(catalog, flaw, package, ecosystem, ranges, rng);
        let enumerates = !matches!(flaw.eco, Eco::Go | Eco::NuGet);
        if !enumerates || !rng.chance(0.5) {
            affected.versions.clear();
        }
        let inside = flaw.eco == Eco::Go && database == Database::Ghsa && rng.chance(0.5);
        if let (true, Some(p)) = (inside, affected.package.as_mut()) {
            p.name = format!("{}/internal/{}", p.name, word(rng.below(64)));
        }
        affected
    }

    /// An entry of `ranges` disjoint ranges over the package's history, with the
    /// versions inside them enumerated (callers drop the list where OSV has none).
    fn entry(
        catalog: &Catalog,
        flaw: &Flaw,
        package: usize,
        ecosystem: &str,
        ranges: usize,
        rng: &mut Rng,
    ) -> Affected {
        let history = catalog.history(flaw.eco, package);
        let cuts = cuts(history.len(), ranges, unfixed(flaw.eco), rng);
        let text = |i: usize| version_text(flaw.eco, package, i, history[i], false);
        let kind = match flaw.eco {
            Eco::Npm | Eco::Go | Eco::Cargo => RangeKind::Semver,
            _ => RangeKind::Ecosystem,
        };
        let mut out = Vec::new();
        let mut versions = Vec::new();
        for (i, pair) in cuts.chunks(2).enumerate() {
            let (from, to) = (pair[0], pair.get(1).copied());
            let introduced = if from == 0 && i == 0 && rng.chance(0.6) {
                "0".to_owned()
            } else {
                text(from)
            };
            let mut events = vec![RangeEvent::Introduced(introduced)];
            let end = match to {
                Some(to) if rng.chance(0.1) => {
                    events.push(RangeEvent::LastAffected(text(to - 1)));
                    to
                }
                Some(to) => {
                    events.push(RangeEvent::Fixed(text(to)));
                    to
                }
                None => history.len(),
            };
            versions.extend((from..end).map(text));
            out.push(Range {
                kind,
                repo: None,
                events,
            });
        }
        Affected {
            package: Some(Package {
                ecosystem: ecosystem.to_owned(),
                name: advisory_name(flaw.eco, package),
                purl: None,
            }),
            ranges: out,
            versions,
            ecosystem_specific: None,
            database_specific: None,
        }
    }

    /// How often the last range of an entry has no fix yet: Debian and Ubuntu track many
    /// flaws they will not fix in a stable release; Alpine's database lists fixes only.
    fn unfixed(eco: Eco) -> f64 {
        match eco {
            Eco::Debian | Eco::Ubuntu => 0.05,
            Eco::RedHat => 0.05,
            Eco::Alpine => 0.0,
            _ => 0.03,
        }
    }

    /// Sorted distinct release indices taken as (introduced, fixed) pairs, half of them
    /// among recent releases; with chance `open` the last range has no fix.
    fn cuts(len: usize, ranges: usize, open: f64, rng: &mut Rng) -> Vec<usize> {
        let mut chosen = BTreeSet::new();
        while chosen.len() < (2 * ranges).min(len) {
            let recent = len - 1 - ((len as f64) * rng.unit().powi(2)) as usize;
            let any = rng.below(len);
            chosen.insert(if rng.chance(0.5) { recent } else { any });
        }
        let mut cuts: Vec<usize> = chosen.into_iter().collect();
        if cuts.len() >= 2 && rng.chance(open) {
            cuts.pop();
        }
        cuts
    }

    fn statement(flaw: &Flaw, rng: &mut Rng) -> IssuedStatement {
        let status = match rng.below(10) {
            0..=5 => VexStatus::NotAffected,
            6..=7 => VexStatus::Affected,
            8 => VexStatus::Fixed,
            _ => VexStatus::UnderInvestigation,
        };
        let product = package_purl(flaw.eco, flaw.package);
        let doc = format!("https://vex.bench.example/{}", flaw.number);
        let issuer = ISSUERS[flaw.number % 3];
        let statement = VexStatement {
            vulnerability: Vulnerability {
                name: flaw.cve.clone(),
                uri: None,
                source: None,
                aliases: Vec::new(),
            },
            products: vec![VexProduct::from_id(&product)],
            status,
            original_status: status.to_string(),
            justification: (status == VexStatus::NotAffected)
                .then(|| "vulnerable_code_not_in_execute_path".to_owned()),
            impact_statement: None,
            action_statement: None,
            responses: Vec::new(),
            detail: None,
            ratings: Vec::new(),
            timestamp: Some(timestamp(rng, flaw.year + 1)),
        };
        IssuedStatement {
            id: format!("{VEX_FEED}/{doc}#0"),
            issuer: issuer.to_owned(),
            statement,
        }
    }

    /// The package's purl without a version (for distributions, the source package).
    fn package_purl(eco: Eco, n: usize) -> String {
        let name = advisory_name(eco, n);
        match eco {
            Eco::Npm => format!("pkg:npm/{}", name.replace('@', "%40")),
            Eco::PyPI => format!("pkg:pypi/{}", name.to_lowercase().replace('_', "-")),
            Eco::Maven => format!("pkg:maven/{}", name.replace(':', "/")),
            Eco::Go => format!("pkg:golang/{name}"),
            Eco::Cargo => format!("pkg:cargo/{name}"),
            Eco::RubyGems => format!("pkg:gem/{name}"),
            Eco::NuGet => format!("pkg:nuget/{name}"),
            Eco::Debian => format!("pkg:deb/debian/{name}"),
            Eco::Ubuntu => format!("pkg:deb/ubuntu/{name}"),
            Eco::Alpine => format!("pkg:apk/alpine/{name}"),
            Eco::RedHat => format!("pkg:rpm/redhat/{name}"),
        }
    }

    /// An image: a distribution (with its `distro` qualifier) or none, and languages.
    struct Template {
        distro: Option<(Eco, &'static str)>,
        languages: &'static [Eco],
    }

    const TEMPLATES: [Template; 10] = [
        template(Some((Eco::Debian, "debian-12")), &[Eco::Npm]),
        template(Some((Eco::Debian, "debian-12")), &[Eco::PyPI]),
        template(Some((Eco::Debian, "debian-11")), &[Eco::Maven]),
        template(Some((Eco::Alpine, "alpine-3.19.1")), &[Eco::Go]),
        template(Some((Eco::Alpine, "alpine-3.18.6")), &[Eco::PyPI, Eco::Npm]),
        template(Some((Eco::Ubuntu, "ubuntu-22.04")), &[Eco::RubyGems]),
        template(Some((Eco::RedHat, "rhel-9.3")), &[Eco::Maven]),
        template(Some((Eco::Debian, "debian-12")), &[Eco::Cargo]),
        template(None, &[Eco::Go]),
        template(Some((Eco::Ubuntu, "ubuntu-20.04")), &[Eco::NuGet, Eco::Npm]),
    ];

    const fn template(distro: Option<(Eco, &'static str)>, languages: &'static [Eco]) -> Template {
        Template { distro, languages }
    }

    fn artifact(catalog: &Catalog, i: usize, count: usize, rng: &mut Rng) -> Artifact {
        let template = &TEMPLATES[i % TEMPLATES.len()];
        let os_count = if template.distro.is_some() {
            count / 2
        } else {
            0
        };
        let mut seen = BTreeSet::new();
        let mut misses = 0;
        let mut components = Vec::with_capacity(count);
        while components.len() < count {
            let (eco, distro) = match template.distro {
                Some((eco, distro)) if components.len() < os_count => (eco, Some(distro)),
                _ => (
                    template.languages[rng.below(template.languages.len())],
                    None,
                ),
            };
            let package = match misses {
                0 => catalog.installed(eco, rng),
                _ => catalog.uniform(eco, rng),
            };
            if seen.insert((eco as u8, package)) {
                misses = 0;
                components.push(component(catalog, eco, package, distro, rng));
            } else {
                misses += 1;
            }
        }
        let name = format!("registry.bench/app-{i}:1.0");
        let digest = Digest::from_sha256(&Sha256::digest(name.as_bytes()).into());
        Artifact {
            name,
            digest,
            components,
        }
    }

    fn component(
        catalog: &Catalog,
        eco: Eco,
        package: usize,
        distro: Option<&str>,
        rng: &mut Rng,
    ) -> Component {
        let history = catalog.history(eco, package);
        let last = history.len() - 1;
        let back = match rng.chance(0.7) {
            true => 0,
            false => 1 + (last as f64 * rng.unit().powi(2) / 3.0) as usize,
        };
        let release = last - back.min(last);
        let mut version = version_text(eco, package, release, history[release], true);
        if eco == Eco::Go && rng.chance(0.05) {
            let [a, b, c] = history[release];
            version = format!("v{a}.{b}.{}-0.20240102030405-0123456789ab", c + 1);
        }
        let (name, purl) = purl(eco, package, &version, distro, rng);
        // Some SBOM generators leave the version out: matching must say `unknown`.
        let (version, purl) = if distro.is_none() && rng.chance(0.005) {
            let bare = purl
                .split_once('@')
                .map_or(purl.clone(), |(p, _)| p.to_owned());
            (None, bare)
        } else {
            (Some(version), purl)
        };
        Component {
            bom_ref: None,
            group: None,
            name,
            version,
            purl: Some(purl),
            hashes: Vec::new(),
        }
    }

    /// The component's name and purl; 40% of distribution packages are binary packages
    /// named after their source package, which `upstream` names.
    fn purl(
        eco: Eco,
        n: usize,
        version: &str,
        distro: Option<&str>,
        rng: &mut Rng,
    ) -> (String, String) {
        let base = package_purl(eco, n);
        let Some(distro) = distro else {
            let name = base.rsplit('/').next().unwrap_or(&base).to_owned();
            let suffix = if eco == Eco::Maven { "?type=jar" } else { "" };
            return (name, format!("{base}@{version}{suffix}"));
        };
        let source = advisory_name(eco, n);
        let arch = if eco == Eco::Alpine || eco == Eco::RedHat {
            "x86_64"
        } else {
            "amd64"
        };
        let mut qualifiers = format!("arch={arch}&distro={distro}");
        if eco == Eco::RedHat && n % 7 == 0 {
            qualifiers.push_str("&epoch=1");
        }
        if rng.chance(0.4) {
            let binary = format!("lib{source}{}", 1 + n % 3);
            let prefix = base.strip_suffix(source.as_str()).unwrap_or(&base);
            let purl = format!("{prefix}{binary}@{version}?{qualifiers}&upstream={source}");
            return (binary, purl);
        }
        (source, format!("{base}@{version}?{qualifiers}"))
    }
}

/// Part 2: documents, bundles, `ingest`, and the real `findings --json`.
mod end_to_end {
    use std::collections::BTreeMap;

    use serde_json::{json, Value};
    use stella_scheduler::bundle::trust::TrustFile;
    use stella_scheduler::bundle::{
        keys, write_bundle, BundleSpec, InMemory as Bytes, MemberPath, Mode, NewDocument,
    };
    use stella_scheduler::formats::{self, ParsedDocument};
    use stella_scheduler::matching::{AdvisoryIndex, IssuedStatement, VexIndex};
    use stella_scheduler::model::{Advisory, DocumentFormat, DocumentKind, Subject};
    use stella_scheduler::store::Store;

    use super::world::{Artifact, Shape, World, VEX_FEED};
    use super::*;

    const OSV_FEED: &str = "bench-osv";
    const SBOM_FEED: &str = "bench-sbom";

    pub struct Figures {
        documents: (usize, usize, usize),
        ingest: Duration,
        read: Duration,
        parse: Duration,
        index: Duration,
        matching: Duration,
        serialize: Duration,
        cli: Vec<Duration>,
        cli_rss_mib: Option<f64>,
        output_bytes: usize,
        findings: usize,
    }

    pub fn run(shape: &Shape) -> anyhow::Result<Figures> {
        println!(
            "end to end: {} artifacts x {} components, {} advisories",
            shape.artifacts, shape.components, shape.advisories
        );
        let mut world = World::generate(shape);
        world.artifacts.sort_by(|a, b| a.digest.cmp(&b.digest));
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
            "target/bench-data/matching-e2e-a{}-c{}-x{}",
            shape.artifacts, shape.components, shape.advisories
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let bundles = write_bundles(&dir, &world)?;
        let data = dir.join("data");
        let ingest = ingest(&dir, &data, &bundles)?;
        let expected = expected_json(world)?;
        let mut figures = in_process(&data)?;
        figures.ingest = ingest;
        time_cli(&data, &expected, &mut figures)?;
        Ok(figures)
    }

    fn doc(path: &str, kind: DocumentKind, format: DocumentFormat, bytes: Vec<u8>) -> NewDocument {
        NewDocument {
            path: MemberPath::parse(path.as_bytes()).unwrap(),
            kind,
            format,
            subject: None,
            source: Box::new(Bytes {
                name: path.to_owned(),
                bytes,
            }),
        }
    }

    /// OSV as published: the model's shape, with the database's severity word where OSV
    /// keeps it. Checked to parse back into the same advisory.
    fn osv(advisory: &Advisory) -> anyhow::Result<Vec<u8>> {
        let mut value = serde_json::to_value(advisory)?;
        let object = value.as_object_mut().context("an advisory is an object")?;
        if let Some(word) = object.remove("database_severity") {
            let word = word.as_str().unwrap_or_default().to_uppercase();
            object.insert("database_specific".into(), json!({ "severity": word }));
        }
        let bytes = serde_json::to_vec(&value)?;
        let parsed = formats::parse("osv", DocumentKind::Advisory, DocumentFormat::Osv, &bytes)?;
        ensure!(
            matches!(&parsed, ParsedDocument::Advisory(a) if a == advisory),
            "{} does not parse back into the same advisory",
            advisory.id
        );
        Ok(bytes)
    }

    fn cyclonedx(artifact: &Artifact) -> Vec<u8> {
        let components: Vec<Value> = artifact
            .components
            .iter()
            .map(|c| {
                let mut component = json!({"type": "library", "name": c.name, "purl": c.purl});
                if let Some(version) = &c.version {
                    component["version"] = json!(version);
                }
                component
            })
            .collect();
        let bom = json!({
            "bomFormat": "CycloneDX",
            "specVersion": "1.5",
            "version": 1,
            "metadata": {"component": {"type": "container", "name": artifact.name}},
            "components": components,
        });
        serde_json::to_vec(&bom).unwrap()
    }

    /// One OpenVEX document per statement, its `@id` the one the statement id names.
    fn openvex(issued: &IssuedStatement) -> Vec<u8> {
        let s = &issued.statement;
        let id = issued.id.strip_prefix(&format!("{VEX_FEED}/")).unwrap();
        let id = id.strip_suffix("#0").unwrap().to_owned();
        let mut statement = json!({
            "vulnerability": {"name": s.vulnerability.name},
            "products": [{"@id": s.products[0].id}],
            "status": s.status.as_str(),
            "timestamp": s.timestamp.map(String::from),
        });
        if let Some(justification) = &s.justification {
            statement["justification"] = json!(justification);
        }
        let document = json!({
            "@context": "https://openvex.dev/ns/v0.2.0",
            "@id": id,
            "author": issued.issuer,
            "version": 1,
            "statements": [statement],
        });
        serde_json::to_vec(&document).unwrap()
    }

    fn write_bundles(dir: &Path, world: &World) -> anyhow::Result<Vec<PathBuf>> {
        let started = Instant::now();
        let key = keys::generate()?;
        let mut trust = TrustFile::empty();
        let feeds = [OSV_FEED, SBOM_FEED, VEX_FEED].map(str::to_owned);
        trust.upsert(&key.verifying_key(), &feeds, None);
        trust.write(&dir.join("trust.json"))?;
        let mut advisories = Vec::new();
        for a in &world.advisories {
            let path = format!("advisories/{}.json", a.id.replace(':', "_"));
            advisories.push(doc(
                &path,
                DocumentKind::Advisory,
                DocumentFormat::Osv,
                osv(a)?,
            ));
        }
        let sboms = world.artifacts.iter().enumerate().map(|(i, a)| {
            let mut d = doc(
                &format!("sboms/{i}.cdx.json"),
                DocumentKind::Sbom,
                DocumentFormat::Cyclonedx,
                cyclonedx(a),
            );
            d.subject = Some(Subject {
                name: a.name.clone(),
                digest: a.digest.clone(),
            });
            d
        });
        let vex = world.statements.iter().enumerate().map(|(i, s)| {
            let path = format!("vex/{i}.openvex.json");
            doc(
                &path,
                DocumentKind::Vex,
                DocumentFormat::Openvex,
                openvex(s),
            )
        });
        let sets = [
            (OSV_FEED, advisories),
            (SBOM_FEED, sboms.collect()),
            (VEX_FEED, vex.collect()),
        ];
        let mut files = Vec::new();
        for (feed, documents) in sets {
            let file = dir.join(format!("{feed}.tar.zst"));
            write_bundle(spec(feed), documents, std::slice::from_ref(&key), &file)?;
            files.push(file);
        }
        println!(
            "  bundles written in {:.2} s",
            started.elapsed().as_secs_f64()
        );
        Ok(files)
    }

    fn spec(feed: &str) -> BundleSpec {
        BundleSpec {
            feed: feed.to_owned(),
            sequence: 1,
            previous: None,
            mode: Mode::Snapshot,
            created_at: "2026-01-15T00:00:00Z".to_owned(),
            expires_at: None,
            withdrawn: Vec::new(),
        }
    }

    fn command(command: &mut Command) -> anyhow::Result<Output> {
        let out = command.output()?;
        ensure!(
            out.status.success(),
            "{command:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(out)
    }

    fn binary(args: &[&str], data: &Path) -> Command {
        let mut command = Command::new(BINARY);
        command.args(args).arg("--data-dir").arg(data);
        command
    }

    fn ingest(dir: &Path, data: &Path, bundles: &[PathBuf]) -> anyhow::Result<Duration> {
        let trust = dir.join("trust.json");
        command(binary(&["init"], data).arg("--import-trust").arg(trust))?;
        let started = Instant::now();
        command(binary(&["ingest"], data).args(bundles))?;
        let took = started.elapsed();
        println!("  ingested in {:.2} s", took.as_secs_f64());
        Ok(took)
    }

    /// The findings of the world computed in memory, as `findings --json` prints them.
    fn expected_json(world: World) -> anyhow::Result<Value> {
        let advisories = AdvisoryIndex::new(world.advisories);
        let vex = VexIndex::new(world.statements);
        let (found, _, _) = match_all(&advisories, &vex, &world.artifacts);
        let bytes = stella_scheduler::canonical::to_vec(&found)?;
        Ok(serde_json::from_slice(&bytes)?)
    }

    /// The command's steps in-process, each timed: read, parse, index, match.
    fn in_process(data: &Path) -> anyhow::Result<Figures> {
        let store = Store::open(&data.join("store/state.sqlite"))?;
        let position = store.position()?;
        let started = Instant::now();
        let mut stored = BTreeMap::new();
        for kind in DocumentKind::ALL {
            stored.insert(kind, store.documents_as_of(kind, position)?);
        }
        let read = started.elapsed();
        let started = Instant::now();
        let mut parsed: BTreeMap<DocumentKind, Vec<ParsedDocument>> = BTreeMap::new();
        for (kind, docs) in &stored {
            for d in docs {
                let format = d.format.parse().map_err(anyhow::Error::msg)?;
                parsed
                    .entry(*kind)
                    .or_default()
                    .push(formats::parse(&d.path, *kind, format, &d.bytes)?);
            }
        }
        let parse = started.elapsed();
        let count = |k| stored.get(&k).map_or(0, Vec::len);
        let documents = (
            count(DocumentKind::Advisory),
            count(DocumentKind::Vex),
            count(DocumentKind::Sbom),
        );
        let (index, matching, found) = index_and_match(parsed, &stored)?;
        // What the command writes: each finding's canonical JSON, one after the other.
        let started = Instant::now();
        let mut bytes = 0;
        for finding in &found {
            bytes += stella_scheduler::canonical::to_vec_pretty(finding)?.len();
        }
        let serialize = started.elapsed();
        ensure!(bytes > 0 || found.is_empty(), "nothing serialized");
        Ok(Figures {
            documents,
            ingest: Duration::ZERO,
            read,
            parse,
            index,
            matching,
            serialize,
            cli: Vec::new(),
            cli_rss_mib: None,
            output_bytes: 0,
            findings: 0,
        })
    }

    fn index_and_match(
        mut parsed: BTreeMap<DocumentKind, Vec<ParsedDocument>>,
        stored: &BTreeMap<DocumentKind, Vec<stella_scheduler::store::StoredDocument>>,
    ) -> anyhow::Result<(Duration, Duration, Vec<Finding>)> {
        let started = Instant::now();
        let advisories = parsed.remove(&DocumentKind::Advisory).unwrap_or_default();
        let advisories = AdvisoryIndex::new(advisories.into_iter().filter_map(|d| match d {
            ParsedDocument::Advisory(a) => Some(a),
            _ => None,
        }));
        let vex_docs = parsed.remove(&DocumentKind::Vex).unwrap_or_default();
        let vex_stored = stored
            .get(&DocumentKind::Vex)
            .map_or(&[][..], Vec::as_slice);
        let mut statements = Vec::new();
        for (d, s) in vex_docs.iter().zip(vex_stored) {
            if let ParsedDocument::Vex(v) = d {
                let issuer = v.author.clone().unwrap_or_default();
                statements.extend(IssuedStatement::from_document(v, &s.doc_id, &issuer));
            }
        }
        let vex = VexIndex::new(statements);
        let index = started.elapsed();
        let sbom_docs = parsed.remove(&DocumentKind::Sbom).unwrap_or_default();
        let sbom_stored = stored
            .get(&DocumentKind::Sbom)
            .map_or(&[][..], Vec::as_slice);
        let mut artifacts = Vec::new();
        for (d, s) in sbom_docs.into_iter().zip(sbom_stored) {
            if let ParsedDocument::Sbom(sbom) = d {
                artifacts.push(Artifact {
                    name: s.doc_id.clone(),
                    digest: s.doc_id.parse()?,
                    components: sbom.components,
                });
            }
        }
        let (found, _, matching) = match_all(&advisories, &vex, &artifacts);
        Ok((index, matching, found))
    }

    /// `findings --json`, once to warm the page cache, then timed; every run must print
    /// the findings computed in memory.
    fn time_cli(data: &Path, expected: &Value, figures: &mut Figures) -> anyhow::Result<()> {
        let warm = command(&mut binary(&["findings", "--json"], data))?;
        let printed: Value = serde_json::from_slice(&warm.stdout)?;
        ensure!(
            printed["findings"] == *expected,
            "`findings --json` differs from the in-memory findings of the same world"
        );
        figures.output_bytes = warm.stdout.len();
        figures.findings = expected.as_array().map_or(0, Vec::len);
        let gnu_time = Path::new("/usr/bin/time").exists();
        for _ in 0..E2E_REPETITIONS {
            let (took, out, rss) = timed_findings(data, gnu_time)?;
            ensure!(
                out.stdout == warm.stdout,
                "two runs printed different bytes"
            );
            figures.cli.push(took);
            figures.cli_rss_mib = match (figures.cli_rss_mib, rss) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
        Ok(())
    }

    fn timed_findings(
        data: &Path,
        gnu_time: bool,
    ) -> anyhow::Result<(Duration, Output, Option<f64>)> {
        let rss_file = data.join("rss.txt");
        let mut cmd = if gnu_time {
            let mut c = Command::new("/usr/bin/time");
            c.args(["-f", "%M", "-o"]).arg(&rss_file).arg(BINARY);
            c
        } else {
            Command::new(BINARY)
        };
        cmd.args(["findings", "--json", "--data-dir"]).arg(data);
        let started = Instant::now();
        let out = cmd.output()?;
        let took = started.elapsed();
        ensure!(
            out.status.success(),
            "findings failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rss = gnu_time
            .then(|| std::fs::read_to_string(&rss_file).ok())
            .flatten()
            .and_then(|t| t.trim().parse::<f64>().ok())
            .map(|kib| kib / 1024.0);
        Ok((took, out, rss))
    }

    pub fn report(shape: &Shape, f: &Figures) {
        let mut cli = f.cli.clone();
        cli.sort_unstable();
        let median = cli.get(cli.len() / 2).copied().unwrap_or_default();
        let (advisories, vex, sboms) = f.documents;
        println!("\n## end to end: `findings --json` over a store built by `ingest`\n");
        println!("| measure | value | target |\n|---|---|---|");
        let world = format!(
            "{} artifacts x {} components; {} advisories; stored: {advisories} advisories, \
             {vex} VEX, {sboms} SBOMs",
            shape.artifacts, shape.components, shape.advisories
        );
        row("world", world, "-");
        let secs = |d: Duration| format!("{:.2} s", d.as_secs_f64());
        row("`ingest` of the three bundles", secs(f.ingest), "-");
        row("in-process: read the documents (SQLite)", secs(f.read), "-");
        row("in-process: parse them", secs(f.parse), "-");
        row("in-process: build the indexes", secs(f.index), "-");
        row("in-process: match every artifact", secs(f.matching), "-");
        row(
            "in-process: canonical JSON, finding by finding",
            secs(f.serialize),
            "-",
        );
        let whole = format!("`findings --json`, whole command, median of {E2E_REPETITIONS}");
        row(&whole, secs(median), "-");
        if let Some(rss) = f.cli_rss_mib {
            row("`findings --json` peak RSS", format!("{rss:.0} MiB"), "-");
        }
        let output = format!(
            "{} findings, {:.1} MB of JSON, equal to the in-memory findings",
            f.findings,
            f.output_bytes as f64 / 1e6
        );
        row("output", output, "-");
    }
}
