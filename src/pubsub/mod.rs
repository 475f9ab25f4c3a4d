//! Pub/sub: the registry of channel, pattern and shard-channel subscribers, and delivery of published
//! messages to them.
//!
//! The registry maps each channel (pattern, shard channel) to its subscribers' `ClientInfo`; each client
//! keeps the other half (`ClientSubs`) so that UNSUBSCRIBE without arguments, RESET and disconnects find
//! what to remove. Lock order is always the client's `subs`, then a registry map; delivery holds a
//! registry map's read lock and takes only the subscribers' push queues, so it never waits on a
//! subscriber. A message is encoded at most once per protocol version per publish and handed to
//! `ClientInfo::push`, which enforces the output buffer limits. Publishing to a server with no
//! subscribers at all costs one atomic load (keyspace notifications go through here on every write).

pub mod monitor;
pub mod pause;

use bytes::Bytes;
use hashbrown::HashMap;
use parking_lot::RwLock;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::clients::ClientInfo;
use crate::util::glob::glob_match;

pub use crate::clients::{ClientSubs, Kind};

type Subscribers = HashMap<u64, Arc<ClientInfo>>;

/// The server's pub/sub registry, MONITOR clients and CLIENT PAUSE state (`State::pubsub`).
#[derive(Default)]
pub struct PubSub {
    maps: [RwLock<HashMap<Bytes, Subscribers>>; 3],
    /// Number of (client, channel|pattern|shard channel) subscriptions, per kind: the zero checks that
    /// keep publishing to nobody cheap.
    counts: [AtomicUsize; 3],
    pub monitors: monitor::Monitors,
    pub pause: pause::Pause,
}

fn counter(info: &ClientInfo, kind: Kind) -> &AtomicUsize {
    match kind {
        Kind::Channel => &info.sub,
        Kind::Pattern => &info.psub,
        Kind::Shard => &info.ssub,
    }
}

/// Appends a RESP bulk string.
fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    out.push(b'$');
    out.extend_from_slice(itoa::Buffer::new().format(b.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

/// Encodes a push message (`message`, `pmessage`, `smessage`, ...) of bulk strings: an array in
/// RESP2, a push (`>`) in RESP3.
pub fn encode_push(resp3: bool, parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + parts.iter().map(|p| p.len() + 16).sum::<usize>());
    out.push(if resp3 { b'>' } else { b'*' });
    out.extend_from_slice(itoa::Buffer::new().format(parts.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for p in parts {
        bulk(&mut out, p);
    }
    out
}

/// A message encoded lazily, once per protocol version.
struct Encoded<'a> {
    parts: [&'a [u8]; 4],
    len: usize,
    v2: Option<Vec<u8>>,
    v3: Option<Vec<u8>>,
}

impl<'a> Encoded<'a> {
    fn new(parts: [&'a [u8]; 4], len: usize) -> Self {
        Encoded {
            parts,
            len,
            v2: None,
            v3: None,
        }
    }

    fn deliver(&mut self, client: &ClientInfo) {
        let resp3 = client.resp3();
        let slot = if resp3 { &mut self.v3 } else { &mut self.v2 };
        let parts = &self.parts[..self.len];
        let bytes = slot.get_or_insert_with(|| encode_push(resp3, parts));
        client.push(bytes);
    }
}

impl PubSub {
    pub fn new() -> Self {
        Self::default()
    }

    /// Subscribes `client` to `name`. Returns false if it already was.
    pub fn subscribe(&self, client: &Arc<ClientInfo>, kind: Kind, name: &[u8]) -> bool {
        let mut subs = client.subs.lock();
        let set = subs.set_mut(kind);
        if set.contains(name) {
            return false;
        }
        let name = Bytes::copy_from_slice(name);
        set.insert(name.clone());
        counter(client, kind).store(set.len(), Ordering::Relaxed);
        self.maps[kind.index()]
            .write()
            .entry(name)
            .or_default()
            .insert(client.id, client.clone());
        self.counts[kind.index()].fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Unsubscribes `client` from `name`. Returns false if it was not subscribed.
    pub fn unsubscribe(&self, client: &ClientInfo, kind: Kind, name: &[u8]) -> bool {
        let mut subs = client.subs.lock();
        let set = subs.set_mut(kind);
        if !set.remove(name) {
            return false;
        }
        counter(client, kind).store(set.len(), Ordering::Relaxed);
        self.remove_from_map(client.id, kind, name);
        true
    }

    fn remove_from_map(&self, id: u64, kind: Kind, name: &[u8]) {
        let mut map = self.maps[kind.index()].write();
        if let Some(subscribers) = map.get_mut(name) {
            if subscribers.remove(&id).is_some() {
                self.counts[kind.index()].fetch_sub(1, Ordering::Relaxed);
            }
            if subscribers.is_empty() {
                map.remove(name);
            }
        }
    }

    /// Unsubscribes `client` from everything of `kind` and returns what it was subscribed to.
    pub fn unsubscribe_all(&self, client: &ClientInfo, kind: Kind) -> Vec<Bytes> {
        let mut subs = client.subs.lock();
        let names: Vec<Bytes> = subs.set_mut(kind).drain().collect();
        counter(client, kind).store(0, Ordering::Relaxed);
        if !names.is_empty() {
            let mut map = self.maps[kind.index()].write();
            for name in &names {
                if let Some(subscribers) = map.get_mut(name) {
                    if subscribers.remove(&client.id).is_some() {
                        self.counts[kind.index()].fetch_sub(1, Ordering::Relaxed);
                    }
                    if subscribers.is_empty() {
                        map.remove(name);
                    }
                }
            }
        }
        names
    }

    /// Drops every subscription of a client that disconnected or was RESET, and its MONITOR.
    pub fn drop_client(&self, client: &ClientInfo) {
        if client.in_pubsub() {
            for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
                self.unsubscribe_all(client, kind);
            }
        }
        if client.monitor.load(Ordering::Relaxed) {
            self.monitors.remove(client);
        }
    }

    /// Delivers `message` to the subscribers of `channel` and to the pattern subscribers whose
    /// pattern matches it, each encoded for its protocol; returns how many deliveries were made (a
    /// client subscribed by channel and by pattern counts, and receives, twice). This is PUBLISH, and
    /// what keyspace notifications call.
    pub fn publish(&self, channel: &[u8], message: &[u8]) -> usize {
        let direct = self.counts[0].load(Ordering::Relaxed) != 0;
        let patterns = self.counts[1].load(Ordering::Relaxed) != 0;
        if !direct && !patterns {
            return 0;
        }
        let mut receivers = 0;
        if direct {
            let map = self.maps[0].read();
            if let Some(subscribers) = map.get(channel) {
                let mut msg = Encoded::new([b"message", channel, message, b""], 3);
                for c in subscribers.values() {
                    msg.deliver(c);
                    receivers += 1;
                }
            }
        }
        if patterns {
            let map = self.maps[1].read();
            for (pattern, subscribers) in map.iter() {
                if !glob_match(pattern, channel, false) {
                    continue;
                }
                let mut msg = Encoded::new([b"pmessage", pattern, channel, message], 4);
                for c in subscribers.values() {
                    msg.deliver(c);
                    receivers += 1;
                }
            }
        }
        receivers
    }

    /// SPUBLISH: delivers to the subscribers of shard channel `channel`.
    pub fn spublish(&self, channel: &[u8], message: &[u8]) -> usize {
        if self.counts[2].load(Ordering::Relaxed) == 0 {
            return 0;
        }
        let map = self.maps[2].read();
        let Some(subscribers) = map.get(channel) else {
            return 0;
        };
        let mut msg = Encoded::new([b"smessage", channel, message, b""], 3);
        for c in subscribers.values() {
            msg.deliver(c);
        }
        subscribers.len()
    }

    /// The channels (or shard channels) with at least one subscriber, matching `pattern` if given.
    pub fn channels(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.maps[kind.index()]
            .read()
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob_match(p, c, false)))
            .cloned()
            .collect()
    }

    /// Number of subscribers of one channel (or shard channel).
    pub fn numsub(&self, kind: Kind, channel: &[u8]) -> usize {
        self.maps[kind.index()]
            .read()
            .get(channel)
            .map_or(0, |s| s.len())
    }

    /// Number of distinct channels (patterns, shard channels) with subscribers: INFO's
    /// pubsub_channels / pubsub_patterns / pubsub_shardchannels and PUBSUB NUMPAT.
    pub fn distinct(&self, kind: Kind) -> usize {
        if self.counts[kind.index()].load(Ordering::Relaxed) == 0 {
            return 0;
        }
        self.maps[kind.index()].read().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(id: u64) -> Arc<ClientInfo> {
        Arc::new(ClientInfo::new(id, String::new(), String::new(), 0))
    }

    fn take(c: &ClientInfo) -> Vec<u8> {
        let mut out = Vec::new();
        c.take_pushes(&mut out);
        out
    }

    #[test]
    fn pushes_are_encoded_per_protocol() {
        assert_eq!(
            encode_push(false, &[b"message", b"ch", b"hi"]),
            b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
        );
        assert_eq!(encode_push(true, &[b"x"]), b">1\r\n$1\r\nx\r\n");
    }

    #[test]
    fn subscribe_then_unsubscribe_keeps_both_halves_in_step() {
        let ps = PubSub::new();
        let a = client(1);
        assert!(ps.subscribe(&a, Kind::Channel, b"ch"));
        assert!(!ps.subscribe(&a, Kind::Channel, b"ch"));
        assert!(ps.subscribe(&a, Kind::Pattern, b"c*"));
        assert_eq!(a.sub.load(Ordering::Relaxed), 1);
        assert!(a.in_pubsub());
        assert_eq!(ps.numsub(Kind::Channel, b"ch"), 1);
        assert!(ps.unsubscribe(&a, Kind::Channel, b"ch"));
        assert!(!ps.unsubscribe(&a, Kind::Channel, b"ch"));
        assert_eq!(ps.numsub(Kind::Channel, b"ch"), 0);
        assert_eq!(ps.channels(Kind::Channel, None).len(), 0);
        ps.drop_client(&a);
        assert!(!a.in_pubsub());
        assert_eq!(ps.distinct(Kind::Pattern), 0);
    }

    #[test]
    fn publish_reaches_channel_and_pattern_subscribers_in_their_protocol() {
        let ps = PubSub::new();
        assert_eq!(ps.publish(b"news", b"x"), 0);
        let a = client(1);
        let b = client(2);
        b.resp.store(3, Ordering::Relaxed);
        ps.subscribe(&a, Kind::Channel, b"news");
        ps.subscribe(&b, Kind::Pattern, b"n[aeiou]ws");
        ps.subscribe(&b, Kind::Pattern, b"other*");
        assert_eq!(ps.publish(b"news", b"x"), 2);
        assert_eq!(take(&a), encode_push(false, &[b"message", b"news", b"x"]));
        assert_eq!(
            take(&b),
            encode_push(true, &[b"pmessage", b"n[aeiou]ws", b"news", b"x"])
        );
        assert_eq!(ps.publish(b"nothing", b"x"), 0);
        assert!(!a.has_pushes());
        assert_eq!(ps.distinct(Kind::Pattern), 2);
    }

    #[test]
    fn shard_channels_are_separate_from_channels() {
        let ps = PubSub::new();
        let a = client(1);
        ps.subscribe(&a, Kind::Shard, b"ch");
        assert_eq!(ps.spublish(b"ch", b"m"), 1);
        assert_eq!(
            take(&a),
            encode_push(false, &[b"smessage", b"ch", b"m"]).as_slice()
        );
        assert_eq!(ps.distinct(Kind::Channel), 0);
        assert_eq!(
            ps.channels(Kind::Shard, Some(b"c?")),
            vec![Bytes::from("ch")]
        );
    }
}
