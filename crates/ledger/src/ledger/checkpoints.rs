//! Checkpoints the log signs and the cosignatures members add, each one durable commit that
//! also moves the metadata record's counts (which the head log then acknowledges).

use accord_core::checkpoint::{Checkpoint, SignedCheckpoint};
use accord_core::keys::KeyPair;

use super::{corrupt, Ledger, StoredCheckpoint};
use crate::error::LedgerError;
use crate::keys;
use crate::store::WriteBatch;

impl Ledger {
    fn commit_counts(&mut self, mut batch: WriteBatch) -> Result<(), LedgerError> {
        batch.replace(keys::META_KEY.to_vec(), self.meta().to_bytes());
        self.store.commit(batch)?;
        self.record_head()
    }

    /// Signs the current tree head with the log key and stores it.
    ///
    /// # Errors
    /// [`LedgerError::WrongLogKey`] if `key` is not the charter's log key.
    pub fn issue_checkpoint(&mut self, key: &KeyPair) -> Result<StoredCheckpoint, LedgerError> {
        if key.verifier().ok().as_ref() != Some(&self.log_key) {
            return Err(LedgerError::WrongLogKey {
                expected: self.log_key.to_string(),
            });
        }
        let cp = Checkpoint::new(&self.origin, self.size(), self.root())
            .map_err(|e| corrupt("checkpoint", e.to_string()))?;
        let note = SignedCheckpoint::sign(&cp, self.log_key.name(), key.signing_key())
            .map_err(|e| corrupt("checkpoint", e.to_string()))?;
        let seq = self.checkpoint_count;
        let mut batch = WriteBatch::default();
        batch.put(keys::checkpoint(seq), note.to_bytes());
        self.checkpoint_count += 1;
        if let Err(e) = self.commit_counts(batch) {
            self.checkpoint_count -= 1;
            return Err(e);
        }
        Ok(StoredCheckpoint {
            seq,
            note,
            cosigners: Vec::new(),
        })
    }

    /// Stores a checkpoint the log signed elsewhere (a mirror's copy of what the log
    /// served), after checking that it is this ledger's: its origin, a valid signature by the
    /// charter's log key, a size within the ledger and the ledger's root at that size. Its
    /// cosignature lines are stored apart, each only if it verifies under its member's
    /// current key (others are dropped and counted in the second value). A checkpoint whose
    /// note is the latest one stored gains the new cosignatures instead of a new number.
    ///
    /// # Errors
    /// [`LedgerError::WrongLogKey`] for a bad log signature; [`LedgerError::OutOfRange`] for
    /// another origin, size or root; store failures.
    pub fn store_checkpoint(
        &mut self,
        note: &SignedCheckpoint,
    ) -> Result<(StoredCheckpoint, usize), LedgerError> {
        let cp = note.checkpoint();
        if cp.origin() != self.origin {
            return Err(LedgerError::OutOfRange(format!(
                "a checkpoint of {:?}, not of this ledger ({:?})",
                cp.origin(),
                self.origin
            )));
        }
        note.verify_log(self.log_key.name(), self.log_key.verifying_key())
            .map_err(|_| LedgerError::WrongLogKey {
                expected: self.log_key.to_string(),
            })?;
        if !self.root_at(cp.size())?.ct_eq(cp.root()) {
            return Err(LedgerError::OutOfRange(format!(
                "the checkpoint's root is not this ledger's root at size {}",
                cp.size()
            )));
        }
        let (base, lines) = note.split_cosignatures();
        let seq = match self.latest_checkpoint()? {
            Some(latest) if latest.note.split_cosignatures().0 == base => latest.seq,
            _ => {
                let seq = self.checkpoint_count;
                let mut batch = WriteBatch::default();
                batch.put(keys::checkpoint(seq), base.to_bytes());
                self.checkpoint_count += 1;
                if let Err(e) = self.commit_counts(batch) {
                    self.checkpoint_count -= 1;
                    return Err(e);
                }
                seq
            }
        };
        let mut dropped = 0;
        for line in lines {
            match self.add_cosignature_line(seq, &line) {
                Ok(_) => {}
                Err(LedgerError::Cosign(why)) if why.contains("already cosigned") => {}
                Err(LedgerError::Cosign(_)) => dropped += 1,
                Err(e) => return Err(e),
            }
        }
        Ok((self.checkpoint(seq)?, dropped))
    }

    /// Every checkpoint issued, oldest first, with its cosignatures.
    ///
    /// # Errors
    /// Store failures or corrupt notes.
    pub fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, LedgerError> {
        let mut out = Vec::new();
        for item in self.store.scan(b"X", None) {
            let (k, _) = item?;
            let seq = keys::tail_u64(&k).ok_or_else(|| corrupt("checkpoints", "bad key"))?;
            out.push(self.checkpoint(seq)?);
        }
        Ok(out)
    }

    /// How many checkpoints were issued.
    pub fn checkpoint_count(&self) -> u64 {
        self.checkpoint_count
    }

    /// Checkpoint `seq`, with its cosignatures.
    ///
    /// # Errors
    /// [`LedgerError::NotFound`] or corruption.
    pub fn checkpoint(&self, seq: u64) -> Result<StoredCheckpoint, LedgerError> {
        let bytes = self
            .store
            .get(&keys::checkpoint(seq))?
            .ok_or_else(|| LedgerError::NotFound(format!("checkpoint {seq}")))?;
        let mut note = SignedCheckpoint::from_bytes(&bytes)
            .map_err(|e| corrupt(format!("checkpoint {seq}"), e.to_string()))?;
        let mut cosigners = Vec::new();
        let prefix = keys::num(b'Y', seq);
        for item in self.store.scan(&prefix, None) {
            let (k, line) = item?;
            let member = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            note.add_signature_line(&line).map_err(|e| {
                corrupt(
                    format!("cosignature of {member} on checkpoint {seq}"),
                    e.to_string(),
                )
            })?;
            cosigners.push(member);
        }
        Ok(StoredCheckpoint {
            seq,
            note,
            cosigners,
        })
    }

    /// The latest checkpoint, if any was issued.
    ///
    /// # Errors
    /// Store failures.
    pub fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, LedgerError> {
        match self.checkpoint_count.checked_sub(1) {
            Some(seq) => Ok(Some(self.checkpoint(seq)?)),
            None => Ok(None),
        }
    }

    /// Stores a member's cosignature on checkpoint `seq`, after checking it against the
    /// member's current key. Use [`crate::verify`] first: a member cosigns only what it
    /// has verified.
    ///
    /// # Errors
    /// [`LedgerError::Cosign`] naming what is wrong.
    pub fn add_cosignature(
        &mut self,
        seq: u64,
        member: &KeyPair,
        timestamp: u64,
    ) -> Result<StoredCheckpoint, LedgerError> {
        let cp = self.checkpoint(seq)?;
        let id: accord_core::model::MemberId = member
            .name()
            .parse()
            .map_err(|e: accord_core::model::FieldError| LedgerError::Cosign(e.to_string()))?;
        if let Some(current) = self.state.current_key(&id) {
            if member.verifier().ok().as_ref() != Some(current) {
                return Err(LedgerError::Cosign(format!(
                    "the key given is not {id}'s current key {}",
                    current.keyid()
                )));
            }
        }
        let line = cp
            .note
            .cosignature_line(id.as_str(), member.signing_key(), timestamp)
            .map_err(|e| LedgerError::Cosign(e.to_string()))?;
        self.add_cosignature_line(seq, &line)
    }

    /// Stores a cosignature line a member made elsewhere (`— <member> base64(key ID ||
    /// timestamp || signature)`, c2sp.org/tlog-cosignature) on checkpoint `seq`, after
    /// checking that it is a `cosignature/v1` of that checkpoint by the member's current key
    /// and that the member has not cosigned it yet. The service receives these;
    /// [`Ledger::add_cosignature`] makes them locally.
    ///
    /// # Errors
    /// [`LedgerError::NotFound`] for no such checkpoint; [`LedgerError::Cosign`] naming
    /// what is wrong with the line.
    pub fn add_cosignature_line(
        &mut self,
        seq: u64,
        line: &[u8],
    ) -> Result<StoredCheckpoint, LedgerError> {
        let cp = self.checkpoint(seq)?;
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        // `— <name> <base64>`: a member that already cosigned is told so, whatever else.
        let named = std::str::from_utf8(line)
            .ok()
            .and_then(|l| l.strip_prefix("\u{2014} "))
            .and_then(|l| l.split(' ').next());
        if let Some(name) = named.filter(|n| cp.cosigners.iter().any(|c| c == n)) {
            return Err(LedgerError::Cosign(format!(
                "{name} already cosigned checkpoint {seq}"
            )));
        }
        let mut note = cp.note.clone();
        note.add_signature_line(line)
            .map_err(|e| LedgerError::Cosign(e.to_string()))?;
        let before = cp.note.cosignatures();
        let cos = note
            .cosignatures()
            .into_iter()
            .find(|c| !before.contains(c))
            .filter(|_| note.signature_count() == cp.note.signature_count() + 1)
            .ok_or_else(|| {
                LedgerError::Cosign("the line is not a new cosignature/v1 signature line".into())
            })?;
        let member: accord_core::model::MemberId = cos
            .name
            .parse()
            .map_err(|e: accord_core::model::FieldError| LedgerError::Cosign(e.to_string()))?;
        let member = &member;
        let current = self.state.current_key(member).cloned().ok_or_else(|| {
            LedgerError::Cosign(format!(
                "{member} is not an active member with a usable key"
            ))
        })?;
        if cp.cosigners.iter().any(|c| c == member.as_str()) {
            return Err(LedgerError::Cosign(format!(
                "{member} already cosigned checkpoint {seq}"
            )));
        }
        note.verify_cosignature(&cos, member.as_str(), current.verifying_key())
            .map_err(|_| {
                LedgerError::Cosign(format!(
                    "the cosignature does not verify with {member}'s current key {}",
                    current.keyid()
                ))
            })?;
        let mut key = keys::num(b'Y', seq);
        key.extend_from_slice(member.as_str().as_bytes());
        let mut batch = WriteBatch::default();
        let mut line = line.to_vec();
        if !line.ends_with(b"\n") {
            line.push(b'\n');
        }
        batch.put(key, line);
        self.cosignature_count += 1;
        if let Err(e) = self.commit_counts(batch) {
            self.cosignature_count -= 1;
            return Err(e);
        }
        self.checkpoint(seq)
    }
}
