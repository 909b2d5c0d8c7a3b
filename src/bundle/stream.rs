//! The one place compressed bundle bytes are decoded.
//!
//! `open` checks the file size and the zstd magic, then returns a reader that caps the
//! decoder's window and the total bytes it may produce. Whether a later read error came
//! from the decoder, from the cap, or from the tar layer above is recorded here, so the
//! verifier can name the right step.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::rc::Rc;

use super::error::{Reason, Step, VerifyError};
use super::limits::Limits;

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
const READ_BUFFER: usize = 256 * 1024;

/// What went wrong below the tar layer, if anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    Decoder,
    TotalLimit,
}

/// Shared view of the stream's fault and byte count.
#[derive(Clone, Debug, Default)]
pub struct Probe {
    fault: Rc<Cell<Option<Fault>>>,
    produced: Rc<Cell<u64>>,
}

impl Probe {
    pub fn fault(&self) -> Fault {
        self.fault.get().unwrap_or(Fault::None)
    }
}

/// Decompressed bytes of a bundle, capped by the limits.
pub struct Decompressed {
    decoder: zstd::stream::read::Decoder<'static, BufReader<File>>,
    limit: u64,
    probe: Probe,
}

impl std::fmt::Debug for Decompressed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decompressed")
            .field("limit", &self.limit)
            .finish()
    }
}

/// Steps 1 and 2: open the file, check its size and magic, start the capped decoder.
pub fn open(path: &Path, limits: &Limits) -> Result<(Decompressed, Probe), VerifyError> {
    let fail = |reason| VerifyError::new(Step::Open, reason);
    let mut file = File::open(path).map_err(|e| fail(Reason::Open(e)))?;
    let size = file.metadata().map_err(|e| fail(Reason::Open(e)))?.len();
    if size > limits.max_compressed_bytes {
        let limit = limits.max_compressed_bytes;
        return Err(fail(Reason::CompressedTooLarge { size, limit }));
    }
    check_magic(&mut file, size)?;
    let decoder = start_decoder(file, limits)?;
    let probe = Probe::default();
    let stream = Decompressed {
        decoder,
        limit: limits.max_total_bytes,
        probe: probe.clone(),
    };
    Ok((stream, probe))
}

fn check_magic(file: &mut File, size: u64) -> Result<(), VerifyError> {
    let fail = |reason| VerifyError::new(Step::Decompress, reason);
    if size == 0 {
        return Err(fail(Reason::Empty));
    }
    let mut magic = [0u8; 4];
    let got = read_up_to(file, &mut magic).map_err(|e| fail(Reason::Decompress(e)))?;
    if magic[..got] != ZSTD_MAGIC[..] {
        let magic = hex::encode(&magic[..got]);
        return Err(fail(Reason::NotZstd { magic }));
    }
    file.seek(SeekFrom::Start(0))
        .map_err(|e| VerifyError::new(Step::Open, Reason::Open(e)))?;
    Ok(())
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn start_decoder(
    file: File,
    limits: &Limits,
) -> Result<zstd::stream::read::Decoder<'static, BufReader<File>>, VerifyError> {
    let fail = |e| VerifyError::new(Step::Decompress, Reason::Decompress(e));
    let reader = BufReader::with_capacity(READ_BUFFER, file);
    let mut decoder = zstd::stream::read::Decoder::with_buffer(reader).map_err(fail)?;
    decoder
        .window_log_max(limits.max_window_log)
        .map_err(fail)?;
    Ok(decoder)
}

impl Read for Decompressed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let produced = self.probe.produced.get();
        if produced >= self.limit {
            return self.read_past_limit();
        }
        let room = (self.limit - produced).min(buf.len() as u64) as usize;
        match self.decoder.read(&mut buf[..room]) {
            Ok(n) => {
                self.probe.produced.set(produced + n as u64);
                Ok(n)
            }
            Err(e) => {
                self.probe.fault.set(Some(Fault::Decoder));
                Err(e)
            }
        }
    }
}

impl Decompressed {
    /// At the cap: fine if the stream ends here, a fault if it has more to give.
    fn read_past_limit(&mut self) -> io::Result<usize> {
        let mut one = [0u8; 1];
        match self.decoder.read(&mut one) {
            Ok(0) => Ok(0),
            Ok(_) => {
                self.probe.fault.set(Some(Fault::TotalLimit));
                Err(io::Error::other("decompressed size limit reached"))
            }
            Err(e) => {
                self.probe.fault.set(Some(Fault::Decoder));
                Err(e)
            }
        }
    }
}

/// Maps an error seen by the layers above to the step and reason it really belongs to.
pub fn classify(probe: &Probe, limits: &Limits, err: io::Error, tar_step: Step) -> VerifyError {
    match probe.fault() {
        Fault::TotalLimit => VerifyError::new(
            Step::Decompress,
            Reason::TotalTooLarge {
                limit: limits.max_total_bytes,
            },
        ),
        Fault::Decoder => VerifyError::new(Step::Decompress, Reason::Decompress(err)),
        Fault::None => VerifyError::new(tar_step, Reason::Tar(err)),
    }
}
