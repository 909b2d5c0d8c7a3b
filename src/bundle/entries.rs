//! Tar entries read raw, with GNU long names and pax headers applied here, under a bound.
//!
//! The `tar` crate, left to itself, reads a long-name or pax header whole into memory
//! whatever size it declares, before the verifier sees anything. Reading raw lets us
//! refuse such headers above [`MAX_EXTENSION_BYTES`] without reading them.

use std::io::Read;

use tar::{EntryType, PaxExtensions};

use super::error::{Reason, Step, VerifyError};
use super::limits::Limits;
use super::stream::{self, Decompressed, Probe};

/// Largest GNU long-name or pax extended header accepted. Member paths are at most 240
/// bytes, so anything near this is hostile.
pub const MAX_EXTENSION_BYTES: u64 = 64 * 1024;

/// Longest member name repeated in a message.
const SHOWN_NAME_BYTES: usize = 256;

pub type Entries<'a> = tar::Entries<'a, std::io::BufReader<Decompressed>>;
pub type Entry<'a> = tar::Entry<'a, std::io::BufReader<Decompressed>>;

/// A file-level tar entry with its extension headers applied.
pub struct Member<'a> {
    pub entry: Entry<'a>,
    pub name: Vec<u8>,
    pub entry_type: EntryType,
    pub size: u64,
}

/// Extension headers seen before the entry they describe.
#[derive(Default)]
struct Pending {
    long_name: Option<Vec<u8>>,
    pax_path: Option<Vec<u8>>,
    pax_size: Option<u64>,
}

/// The next file-level entry, or `None` at the end of the archive.
pub fn next_member<'a>(
    entries: &mut Entries<'a>,
    probe: &Probe,
    limits: &Limits,
    step: Step,
) -> Result<Option<Member<'a>>, VerifyError> {
    let mut pending = Pending::default();
    loop {
        let next = entries.next().transpose();
        let Some(mut entry) = next.map_err(|e| stream::classify(probe, limits, e, step))? else {
            return match pending.long_name.is_some() || pending.pax_path.is_some() {
                true => Err(dangling(step)),
                false => Ok(None),
            };
        };
        let entry_type = entry.header().entry_type();
        match entry_type {
            EntryType::GNULongName => {
                let mut name = read_extension(&mut entry, probe, limits, step)?;
                while name.last() == Some(&0) {
                    name.pop();
                }
                pending.long_name = Some(name);
            }
            EntryType::GNULongLink => drop(read_extension(&mut entry, probe, limits, step)?),
            EntryType::XHeader => {
                let data = read_extension(&mut entry, probe, limits, step)?;
                apply_pax(&data, &mut pending, step)?;
            }
            _ => return Ok(Some(member(entry, entry_type, pending, step)?)),
        }
    }
}

fn member(
    entry: Entry<'_>,
    entry_type: EntryType,
    pending: Pending,
    step: Step,
) -> Result<Member<'_>, VerifyError> {
    let header_size = entry.size();
    if let Some(pax) = pending.pax_size.filter(|s| *s != header_size) {
        let problem = format!("pax size {pax} disagrees with the header size {header_size}");
        return Err(VerifyError::new(
            step,
            Reason::Tar(std::io::Error::other(problem)),
        ));
    }
    let name = match pending.pax_path.or(pending.long_name) {
        Some(name) => name,
        None => entry.path_bytes().into_owned(),
    };
    Ok(Member {
        entry,
        name,
        entry_type,
        size: header_size,
    })
}

fn read_extension(
    entry: &mut Entry<'_>,
    probe: &Probe,
    limits: &Limits,
    step: Step,
) -> Result<Vec<u8>, VerifyError> {
    let size = entry.size();
    if size > MAX_EXTENSION_BYTES {
        let reason = Reason::ExtensionTooLarge {
            size,
            limit: MAX_EXTENSION_BYTES,
        };
        return Err(VerifyError::new(step, reason));
    }
    let mut data = Vec::with_capacity(size as usize);
    entry
        .read_to_end(&mut data)
        .map_err(|e| stream::classify(probe, limits, e, step))?;
    Ok(data)
}

fn apply_pax(data: &[u8], pending: &mut Pending, step: Step) -> Result<(), VerifyError> {
    let bad = |e: std::io::Error| VerifyError::new(step, Reason::Tar(e));
    for ext in PaxExtensions::new(data) {
        let ext = ext.map_err(bad)?;
        match ext.key_bytes() {
            b"path" => pending.pax_path = Some(ext.value_bytes().to_vec()),
            b"size" => {
                let size = std::str::from_utf8(ext.value_bytes())
                    .ok()
                    .and_then(|s| s.parse().ok());
                let size =
                    size.ok_or_else(|| bad(std::io::Error::other("pax size is not a number")))?;
                pending.pax_size = Some(size);
            }
            _ => {}
        }
    }
    Ok(())
}

fn dangling(step: Step) -> VerifyError {
    let e = std::io::Error::other("archive ends after an extension header, before its entry");
    VerifyError::new(step, Reason::Tar(e))
}

/// A raw name as messages show it: lossy UTF-8, cut to a readable length.
pub fn shown_name(raw: &[u8]) -> String {
    if raw.len() <= SHOWN_NAME_BYTES {
        return String::from_utf8_lossy(raw).into_owned();
    }
    let head = String::from_utf8_lossy(&raw[..SHOWN_NAME_BYTES]);
    format!("{head}… ({} bytes)", raw.len())
}
