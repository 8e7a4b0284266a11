//! The head log: an append-only file beside the sled database that records, after every
//! durable commit, what the ledger had acknowledged: tree size, root, and how many
//! checkpoints and cosignatures. sled 0.34 can come back from some corruptions as an older,
//! self-consistent state (its issues #1533, #1527); comparing the store with the last head
//! on open turns that silent loss into a clear error.
//!
//! Each record is 60 bytes: size (u64 BE), checkpoints (u64 BE), cosignatures (u64 BE),
//! root (32 bytes), then the first 4 bytes of SHA-256 of those 56 bytes. A torn last record
//! (a crash before its fsync returned, so never acknowledged) fails its check and is ignored.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use accord_core::log::Hash;
use sha2::{Digest, Sha256};

use crate::error::LedgerError;

const RECORD: usize = 60;
/// The file's name in the ledger directory.
pub const FILE_NAME: &str = "heads";

/// What the ledger had acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// Entries.
    pub size: u64,
    /// Checkpoints issued.
    pub checkpoints: u64,
    /// Cosignatures stored.
    pub cosignatures: u64,
    /// Root of `size` entries.
    pub root: Hash,
}

impl Head {
    fn encode(&self) -> [u8; RECORD] {
        let mut out = [0u8; RECORD];
        out[..8].copy_from_slice(&self.size.to_be_bytes());
        out[8..16].copy_from_slice(&self.checkpoints.to_be_bytes());
        out[16..24].copy_from_slice(&self.cosignatures.to_be_bytes());
        out[24..56].copy_from_slice(&self.root.0);
        let check = Sha256::digest(&out[..56]);
        out[56..].copy_from_slice(&check[..4]);
        out
    }

    fn decode(b: &[u8]) -> Option<Self> {
        if b.len() != RECORD || Sha256::digest(&b[..56])[..4] != b[56..] {
            return None;
        }
        Some(Self {
            size: u64::from_be_bytes(b[..8].try_into().ok()?),
            checkpoints: u64::from_be_bytes(b[8..16].try_into().ok()?),
            cosignatures: u64::from_be_bytes(b[16..24].try_into().ok()?),
            root: Hash(b[24..56].try_into().ok()?),
        })
    }
}

/// The open head log.
pub struct HeadLog {
    file: File,
    path: PathBuf,
    last: Option<Head>,
}

fn io(path: &Path, source: std::io::Error) -> LedgerError {
    LedgerError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl HeadLog {
    /// Opens (or creates) the head log in `dir` and reads its last intact record.
    ///
    /// # Errors
    /// I/O errors.
    pub fn open(dir: &Path) -> Result<Self, LedgerError> {
        let path = dir.join(FILE_NAME);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| io(&path, e))?;
        let len = file.metadata().map_err(|e| io(&path, e))?.len();
        let whole = len - len % RECORD as u64;
        let mut last = None;
        // Walk back from the end to the last record whose check holds.
        let mut at = whole;
        while at >= RECORD as u64 {
            at -= RECORD as u64;
            file.seek(SeekFrom::Start(at)).map_err(|e| io(&path, e))?;
            let mut buf = [0u8; RECORD];
            file.read_exact(&mut buf).map_err(|e| io(&path, e))?;
            if let Some(h) = Head::decode(&buf) {
                last = Some(h);
                break;
            }
        }
        Ok(Self { file, path, last })
    }

    /// Makes every record appended so far durable.
    ///
    /// # Errors
    /// I/O errors.
    pub fn sync(&self) -> Result<(), LedgerError> {
        self.file.sync_data().map_err(|e| io(&self.path, e))
    }

    /// The last acknowledged head, if any.
    pub fn last(&self) -> Option<Head> {
        self.last
    }

    /// Appends `head` durably, unless the last one recorded covers it (it equals `head`, or
    /// it is later: no fewer entries, checkpoints and cosignatures; a service may record a
    /// group's head after a checkpoint recorded a later one).
    ///
    /// # Errors
    /// I/O errors.
    pub fn record(&mut self, head: Head, sync: bool) -> Result<(), LedgerError> {
        if self.last.is_some_and(|l| {
            l.size >= head.size
                && l.checkpoints >= head.checkpoints
                && l.cosignatures >= head.cosignatures
        }) {
            return Ok(());
        }
        self.file
            .write_all(&head.encode())
            .map_err(|e| io(&self.path, e))?;
        if sync {
            self.file.sync_data().map_err(|e| io(&self.path, e))?;
        }
        self.last = Some(head);
        Ok(())
    }
}
