//! The EVAL script cache: compiled scripts by SHA1, and the SHA1 of every cached body, so a repeated
//! EVAL finds its script by one hash-table probe instead of hashing the body with SHA1 again.

use bytes::Bytes;

/// A SHA1 in lower-case hex, as scripts are named.
pub type Sha = [u8; 40];

/// A compiled script and its `#!lua` shebang flags (absent: Redis's compatibility mode).
pub struct Script {
    pub func: super::runner::Pinned,
    pub flags: Option<u32>,
}

#[derive(Default)]
pub struct ScriptCache {
    by_sha: hashbrown::HashMap<Sha, Script>,
    by_body: hashbrown::HashMap<Bytes, Sha>,
    /// Bytes of the cached bodies (INFO memory's used_memory_scripts).
    body_bytes: usize,
}

impl ScriptCache {
    /// The script named `sha` (any case); `None` for a name that is not a cached sha.
    pub fn get(&self, sha: &[u8]) -> Option<(&Sha, &Script)> {
        self.by_sha.get_key_value(&normalize(sha)?)
    }

    /// The sha of `body` if it was cached by its text.
    pub fn sha_of_body(&self, body: &[u8]) -> Option<Sha> {
        self.by_body.get(body).copied()
    }

    pub fn contains(&self, sha: &[u8]) -> bool {
        self.get(sha).is_some()
    }

    pub fn insert(&mut self, sha: Sha, body: Bytes, script: Script) {
        let len = body.len();
        if self.by_body.insert(body, sha).is_none() {
            self.body_bytes += len;
        }
        self.by_sha.insert(sha, script);
    }

    pub fn clear(&mut self) {
        self.by_sha.clear();
        self.by_body.clear();
        self.body_bytes = 0;
    }

    /// Bytes of the cached script bodies.
    pub fn body_bytes(&self) -> usize {
        self.body_bytes
    }

    pub fn len(&self) -> usize {
        self.by_sha.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_sha.is_empty()
    }
}

/// `sha` lower-cased, if it has a sha's length.
fn normalize(sha: &[u8]) -> Option<Sha> {
    let mut out: Sha = sha.try_into().ok()?;
    out.make_ascii_lowercase();
    Some(out)
}

/// The SHA1 of `body` in lower-case hex.
pub fn sha_of(body: &[u8]) -> Sha {
    let mut out = [0u8; 40];
    let digest = sha1_smol::Sha1::from(body).digest().bytes();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in digest.iter().enumerate() {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 15) as usize];
    }
    out
}

/// A sha as text.
pub fn sha_str(sha: &Sha) -> &str {
    // Built from hex digits only.
    std::str::from_utf8(sha).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha_of_matches_the_hex_digest() {
        assert_eq!(
            sha_str(&sha_of(b"")),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
    }
}
