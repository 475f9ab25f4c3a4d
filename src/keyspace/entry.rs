//! `Entry`: one key with its value, absolute expiry and the revision metadata COORDINATION.md promises
//! (`version`, `create_revision`, `mod_revision`). Entries are boxed in the shard's table, so the table's
//! slack costs 8 bytes per empty bucket rather than a whole entry.

use super::small_bytes::SmallBytes;
use super::value::Value;

/// A key and everything stored with it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub key: SmallBytes,
    pub value: Value,
    /// Absolute Unix ms of expiry; 0 = no expiry.
    pub expires_at_ms: u64,
    /// 1 at creation, +1 per change.
    pub version: u64,
    /// The global revision that created this incarnation of the key.
    pub create_revision: u64,
    /// The global revision of the key's last change.
    pub mod_revision: u64,
    /// Last access, in seconds on the server's LRU clock (OBJECT IDLETIME).
    pub access_s: u32,
}

impl Entry {
    pub fn new(key: &[u8], value: Value, expires_at_ms: u64, revision: u64, access_s: u32) -> Self {
        Entry {
            key: SmallBytes::new(key),
            value,
            expires_at_ms,
            version: 1,
            create_revision: revision,
            mod_revision: revision,
            access_s,
        }
    }

    /// True when the key has an expiry at or before `now_ms`.
    #[inline]
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expires_at_ms != 0 && self.expires_at_ms <= now_ms
    }

    /// Records a change made at `revision`.
    #[inline]
    pub fn touch(&mut self, revision: u64) {
        self.version += 1;
        self.mod_revision = revision;
    }

    /// Approximate bytes this entry holds (allocation plus owned heap data).
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Entry>() + self.key.heap_bytes() + self.value.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn print_entry_size() {
        // Kept as a test so the size shows up in test output and a growth is noticed in review.
        let size = std::mem::size_of::<Entry>();
        println!("size_of::<Entry>() = {size}");
        assert!(size <= 96, "Entry grew to {size} bytes");
    }
}
