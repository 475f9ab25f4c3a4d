//! The `notify-keyspace-events` directive: the event classes it names, as Redis numbers them, and its
//! text form. Config validates and mirrors the directive with these; `notify` re-exports them for the
//! apply path, which records events by class.

/// Event classes and delivery flags, as Redis numbers them.
pub mod class {
    pub const KEYSPACE: u32 = 1 << 0;
    pub const KEYEVENT: u32 = 1 << 1;
    pub const GENERIC: u32 = 1 << 2;
    pub const STRING: u32 = 1 << 3;
    pub const LIST: u32 = 1 << 4;
    pub const SET: u32 = 1 << 5;
    pub const HASH: u32 = 1 << 6;
    pub const ZSET: u32 = 1 << 7;
    pub const EXPIRED: u32 = 1 << 8;
    pub const EVICTED: u32 = 1 << 9;
    pub const STREAM: u32 = 1 << 10;
    pub const KEY_MISS: u32 = 1 << 11;
    pub const MODULE: u32 = 1 << 13;
    pub const NEW: u32 = 1 << 14;
    /// `A`: every class but key misses and new keys.
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

/// Parses a `notify-keyspace-events` value; None when a character is not a flag.
pub fn parse_flags(s: &str) -> Option<u32> {
    let mut f = 0;
    for c in s.chars() {
        f |= match c {
            'A' => class::ALL,
            'g' => class::GENERIC,
            '$' => class::STRING,
            'l' => class::LIST,
            's' => class::SET,
            'h' => class::HASH,
            'z' => class::ZSET,
            'x' => class::EXPIRED,
            'e' => class::EVICTED,
            'K' => class::KEYSPACE,
            'E' => class::KEYEVENT,
            't' => class::STREAM,
            'm' => class::KEY_MISS,
            'd' => class::MODULE,
            'n' => class::NEW,
            _ => return None,
        };
    }
    Some(f)
}

/// The canonical form CONFIG GET shows, as Redis writes it: `A` when every class of `A` is on, then `K`,
/// `E`, `m`. Unlike Redis, `n` is kept after `A` (Redis drops it from the text but keeps the flag; the text
/// is all Concord stores).
pub fn format_flags(f: u32) -> String {
    let mut s = String::new();
    if f & class::ALL == class::ALL {
        s.push('A');
        if f & class::NEW != 0 {
            s.push('n');
        }
    } else {
        for (bit, c) in [
            (class::GENERIC, 'g'),
            (class::STRING, '$'),
            (class::LIST, 'l'),
            (class::SET, 's'),
            (class::HASH, 'h'),
            (class::ZSET, 'z'),
            (class::EXPIRED, 'x'),
            (class::EVICTED, 'e'),
            (class::STREAM, 't'),
            (class::MODULE, 'd'),
            (class::NEW, 'n'),
        ] {
            if f & bit != 0 {
                s.push(c);
            }
        }
    }
    for (bit, c) in [
        (class::KEYSPACE, 'K'),
        (class::KEYEVENT, 'E'),
        (class::KEY_MISS, 'm'),
    ] {
        if f & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// The config value in canonical form, or None when it has a character that is not a flag.
pub fn normalise_flags(s: &str) -> Option<String> {
    parse_flags(s).map(format_flags)
}

/// The error text CONFIG SET gives for a bad `notify-keyspace-events` value.
pub const BAD_FLAGS: &str = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip_as_redis_shows_them() {
        assert_eq!(normalise_flags("KA").as_deref(), Some("AK"));
        assert_eq!(normalise_flags("").as_deref(), Some(""));
        assert_eq!(normalise_flags("Ex$").as_deref(), Some("$xE"));
        assert_eq!(normalise_flags("g$lshzxetdKE").as_deref(), Some("AKE"));
        assert_eq!(normalise_flags("AnmKE").as_deref(), Some("AnKEm"));
        assert_eq!(normalise_flags("Kq"), None);
    }
}
