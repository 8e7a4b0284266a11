//! The witness's durable state: per log origin, the latest checkpoint it cosigned, as the
//! C2SP signed note it answered (the log's signature lines and its own cosignature).
//!
//! Layout (docs/FORMAT.md, "Witness state"): in the state directory, one file per origin,
//! `<lower-case hex SHA-256 of the origin>.checkpoint`, holding exactly that note; a `LOCK`
//! file held with an exclusive advisory lock while a witness runs, so two processes never
//! share the state; `evidence/`, the fork evidence files it kept (docs/FORMAT.md 14).
//!
//! Crash-safe ordering, kept here: a new state is written to `<name>.tmp`, fsynced, renamed
//! over the old file, and the directory is fsynced, all before [`StateDir::store`] returns;
//! the witness answers 200 only after that. A crash at any point leaves either the old file
//! or the new one, complete: never a cosignature whose checkpoint is not the one on disk.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use accord_core::checkpoint::SignedCheckpoint;
use fs2::FileExt;
use sha2::{Digest, Sha256};

/// Why the state could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// An I/O failure, with the file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// Another process holds the state directory.
    #[error("{0}: another witness is running on this state directory")]
    Locked(PathBuf),
    /// A state file is not a checkpoint of its origin.
    #[error("{path}: corrupt witness state: {why}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The state directory, locked for this process.
pub struct StateDir {
    dir: PathBuf,
    _lock: File,
}

/// The file name of `origin`'s state: hex SHA-256 of the origin, `.checkpoint`.
pub fn file_name(origin: &str) -> String {
    format!(
        "{}.checkpoint",
        hex::encode(Sha256::digest(origin.as_bytes()))
    )
}

impl StateDir {
    /// Creates the directory if needed and locks it.
    ///
    /// # Errors
    /// [`StateError::Io`] or [`StateError::Locked`].
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let path = dir.join("LOCK");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        lock.try_lock_exclusive()
            .map_err(|_| StateError::Locked(dir.to_path_buf()))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            _lock: lock,
        })
    }

    /// The latest checkpoint cosigned for `origin`, if any. The file is checked: it must parse
    /// as a signed checkpoint of that origin.
    ///
    /// # Errors
    /// [`StateError::Io`] or [`StateError::Corrupt`].
    pub fn load(&self, origin: &str) -> Result<Option<SignedCheckpoint>, StateError> {
        let path = self.dir.join(file_name(origin));
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        let note = SignedCheckpoint::from_bytes(&bytes).map_err(|e| StateError::Corrupt {
            path: path.clone(),
            why: e.to_string(),
        })?;
        if note.checkpoint().origin() != origin {
            return Err(StateError::Corrupt {
                path,
                why: format!(
                    "holds a checkpoint of {:?}, not {origin:?}",
                    note.checkpoint().origin()
                ),
            });
        }
        Ok(Some(note))
    }

    /// Replaces `origin`'s state with `note`, durably and atomically (see the module docs).
    ///
    /// # Errors
    /// [`StateError::Io`]; the old state is then still in place or the new one complete.
    pub fn store(&self, origin: &str, note: &SignedCheckpoint) -> Result<(), StateError> {
        let name = file_name(origin);
        let path = self.dir.join(&name);
        let tmp = self.dir.join(format!("{name}.tmp"));
        {
            let mut f = File::create(&tmp).map_err(io(&tmp))?;
            f.write_all(&note.to_bytes()).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
        }
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.dir))?;
        Ok(())
    }
}

impl StateDir {
    /// Writes `bytes` as `evidence/<name>` in the state directory, durably (temporary file,
    /// fsync, rename, directory fsync), unless a file of that name is already there.
    ///
    /// # Errors
    /// [`StateError::Io`].
    pub fn keep_evidence(&self, name: &str, bytes: &[u8]) -> Result<(), StateError> {
        let dir = self.dir.join("evidence");
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let path = dir.join(name);
        if path.exists() {
            return Ok(());
        }
        let tmp = dir.join(format!("{name}.tmp"));
        {
            let mut f = File::create(&tmp).map_err(io(&tmp))?;
            f.write_all(bytes).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
        }
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&dir))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use accord_core::checkpoint::Checkpoint;
    use accord_core::keys::KeyPair;
    use accord_core::log::Hash;

    #[test]
    fn stores_loads_and_locks() {
        let dir = tempfile::tempdir().unwrap();
        let st = StateDir::open(dir.path()).unwrap();
        assert!(matches!(
            StateDir::open(dir.path()),
            Err(StateError::Locked(_))
        ));
        assert_eq!(st.load("o.example/log").unwrap(), None);
        let key = KeyPair::from_seed("o.example/log", &[3; 32]).unwrap();
        let cp = Checkpoint::new("o.example/log", 4, Hash([5; 32])).unwrap();
        let note = SignedCheckpoint::sign(&cp, "o.example/log", key.signing_key()).unwrap();
        st.store("o.example/log", &note).unwrap();
        assert_eq!(st.load("o.example/log").unwrap(), Some(note.clone()));
        // A file under another origin's name is refused, not trusted.
        std::fs::copy(
            dir.path().join(file_name("o.example/log")),
            dir.path().join(file_name("other")),
        )
        .unwrap();
        assert!(matches!(st.load("other"), Err(StateError::Corrupt { .. })));
    }
}
