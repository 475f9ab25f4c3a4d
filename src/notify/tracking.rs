//! Client tracking (client-side caching): which client read which key, and the invalidation messages
//! sent when those keys change.
//!
//! Default mode remembers, per key, the ids of the tracking clients that read it; the first change to
//! the key sends each of them one invalidation and forgets the key (it is tracked again on the next
//! read). BCAST mode instead subscribes a client to key prefixes: every change to a matching key is sent,
//! batched per unit of writes. Keys are tracked by name across databases, as Redis does. A RESP3 client
//! gets `>2 invalidate [keys]` pushes; a RESP2 client redirects them to a connection subscribed to
//! `__redis__:invalidate`. The key table is bounded by `tracking-table-max-keys`: keys over the limit are
//! evicted with an invalidation, so a client's cache never outlives what the server remembers.

use bytes::Bytes;
use hashbrown::HashMap;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::clients::{ClientInfo, ClientRegistry};

pub use crate::clients::tracking_flag as flag;

/// The channel RESP2 redirect targets receive invalidations on.
pub const CHANNEL: &[u8] = b"__redis__:invalidate";

/// A connection's own tracking switches (kept on its `Client`, so the hot path reads no shared state).
/// While tracking is on it also holds the registration that is dropped with the connection.
#[derive(Default)]
pub struct ClientTracking {
    pub on: bool,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    /// CLIENT CACHING was given for the next command (YES in OPTIN mode, NO in OPTOUT mode).
    pub caching: bool,
    /// Client id invalidations go to (0 = this connection).
    pub redirect: u64,
    registration: Option<(Arc<Tracking>, u64)>,
    /// The connection's shared half, for CLIENT LIST's flags while tracking is on.
    info: Option<Arc<ClientInfo>>,
}

impl Drop for ClientTracking {
    fn drop(&mut self) {
        if let Some((t, id)) = self.registration.take() {
            t.disable(id);
        }
    }
}

/// The options of CLIENT TRACKING ON.
#[derive(Debug, Default, Clone)]
pub struct Options {
    pub redirect: u64,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    pub prefixes: Vec<Bytes>,
}

/// What the delivery side needs to know about a tracking client.
#[derive(Debug, Default)]
struct Target {
    redirect: u64,
    bcast: bool,
    noloop: bool,
    broken_redirect: bool,
    /// BCAST prefixes, in the order given.
    prefixes: Vec<Bytes>,
}

#[derive(Default)]
struct State {
    clients: HashMap<u64, Target>,
    /// Key -> ids of the clients that read it since its last invalidation.
    table: HashMap<Bytes, Vec<u64>>,
    /// Total ids across `table` (INFO tracking_total_items).
    items: usize,
    /// BCAST prefix -> subscribed client ids.
    prefixes: BTreeMap<Bytes, Vec<u64>>,
}

/// Server-wide tracking tables.
#[derive(Default)]
pub struct Tracking {
    /// Clients with tracking on: zero means the apply path skips everything here.
    clients_on: AtomicUsize,
    /// `state.table.len()`, readable without the lock (the limit check runs before every command).
    keys: AtomicUsize,
    state: Mutex<State>,
}

/// The value part of an invalidation.
enum Payload {
    Keys(Vec<Bytes>),
    /// Everything (FLUSHDB/FLUSHALL), as the null of the tracking client's protocol.
    Null {
        resp3: bool,
    },
}

/// One invalidation to send once the tables are unlocked.
struct Send {
    client: u64,
    redirect: u64,
    payload: Payload,
}

impl Tracking {
    /// Whether any client tracks (one relaxed load).
    #[inline]
    pub fn is_active(&self) -> bool {
        self.clients_on.load(Ordering::Relaxed) != 0
    }

    /// Whether a FLUSH has anything to do here: clients track, or the table still names keys (ids of
    /// clients that turned tracking off stay until the key changes, as in Redis).
    #[inline]
    pub fn has_state(&self) -> bool {
        self.is_active() || self.keys.load(Ordering::Relaxed) != 0
    }

    /// Number of clients with tracking on (INFO tracking_clients).
    pub fn clients(&self) -> usize {
        self.clients_on.load(Ordering::Relaxed)
    }

    /// (keys, items, prefixes) for INFO.
    pub fn totals(&self) -> (usize, usize, usize) {
        let s = self.state.lock();
        (s.table.len(), s.items, s.prefixes.len())
    }

    /// Turns tracking on for `id` (or changes its options); BCAST prefixes add to the ones it has.
    pub fn enable(
        self: &Arc<Self>,
        client: &mut ClientTracking,
        info: &Arc<ClientInfo>,
        o: &Options,
    ) {
        let id = info.id;
        let mut s = self.state.lock();
        let had = s.clients.contains_key(&id);
        let mut prefixes = s
            .clients
            .remove(&id)
            .map(|t| t.prefixes)
            .unwrap_or_default();
        if o.bcast {
            let wanted: Vec<Bytes> = if o.prefixes.is_empty() {
                vec![Bytes::new()]
            } else {
                o.prefixes.clone()
            };
            for p in wanted {
                let ids = s.prefixes.entry(p.clone()).or_default();
                if !ids.contains(&id) {
                    ids.push(id);
                }
                if !prefixes.contains(&p) {
                    prefixes.push(p);
                }
            }
        }
        s.clients.insert(
            id,
            Target {
                redirect: o.redirect,
                bcast: o.bcast,
                noloop: o.noloop,
                broken_redirect: false,
                prefixes,
            },
        );
        drop(s);
        if !had {
            self.clients_on.fetch_add(1, Ordering::Relaxed);
        }
        client.on = true;
        client.bcast = o.bcast;
        client.optin = o.optin;
        client.optout = o.optout;
        client.noloop = o.noloop;
        client.caching = false;
        client.redirect = o.redirect;
        client.registration = Some((self.clone(), id));
        let bits = flag::ON | if o.bcast { flag::BCAST } else { 0 };
        info.tracking.store(bits, Ordering::Relaxed);
        info.tracking_redir.store(o.redirect, Ordering::Relaxed);
        client.info = Some(info.clone());
    }

    /// Turns tracking off for a connection.
    pub fn disable_client(&self, client: &mut ClientTracking) {
        if let Some((_, id)) = client.registration.take() {
            self.disable(id);
        }
        if let Some(info) = client.info.take() {
            info.tracking.store(0, Ordering::Relaxed);
        }
        let _ = std::mem::take(client);
    }

    fn disable(&self, id: u64) {
        let mut s = self.state.lock();
        let Some(t) = s.clients.remove(&id) else {
            return;
        };
        for p in &t.prefixes {
            if let Some(ids) = s.prefixes.get_mut(p) {
                ids.retain(|&c| c != id);
                if ids.is_empty() {
                    s.prefixes.remove(p);
                }
            }
        }
        drop(s);
        self.clients_on.fetch_sub(1, Ordering::Relaxed);
    }

    /// The BCAST prefixes of `id`, in order (CLIENT TRACKINGINFO).
    pub fn prefixes_of(&self, id: u64) -> Vec<Bytes> {
        self.state
            .lock()
            .clients
            .get(&id)
            .map(|t| t.prefixes.clone())
            .unwrap_or_default()
    }

    /// Whether invalidations of `id` found its redirect target gone.
    pub fn redirect_broken(&self, id: u64) -> bool {
        self.state
            .lock()
            .clients
            .get(&id)
            .is_some_and(|t| t.broken_redirect)
    }

    /// Sends the invalidations for keys changed by one unit (`origin` made the change; None for the
    /// expirer and evictions).
    pub fn invalidate(&self, clients: &ClientRegistry, origin: Option<u64>, keys: &[Bytes]) {
        let mut sends = Vec::new();
        {
            let mut s = self.state.lock();
            let mut seen: Vec<&Bytes> = Vec::with_capacity(keys.len());
            for key in keys {
                if seen.contains(&key) {
                    continue;
                }
                seen.push(key);
                invalidate_key(&mut s, origin, key, &mut sends);
            }
            self.keys.store(s.table.len(), Ordering::Relaxed);
            if !s.prefixes.is_empty() {
                for (prefix, ids) in &s.prefixes {
                    let mut matching: Vec<Bytes> = seen
                        .iter()
                        .filter(|k| k.starts_with(prefix))
                        .map(|k| (*k).clone())
                        .collect();
                    if matching.is_empty() {
                        continue;
                    }
                    matching.sort();
                    for &id in ids {
                        let Some(t) = s.clients.get(&id) else {
                            continue;
                        };
                        // Every key of the unit was changed by its origin.
                        if t.noloop && origin == Some(id) {
                            continue;
                        }
                        sends.push(Send {
                            client: id,
                            redirect: t.redirect,
                            payload: Payload::Keys(matching.clone()),
                        });
                    }
                }
            }
        }
        self.deliver_all(clients, sends);
    }

    /// FLUSHDB/FLUSHALL: every tracking client is told to drop everything, and the table is emptied.
    pub fn invalidate_all(&self, clients: &ClientRegistry, _origin: Option<u64>) {
        let sends: Vec<Send> = {
            let mut s = self.state.lock();
            s.table.clear();
            s.items = 0;
            self.keys.store(0, Ordering::Relaxed);
            s.clients
                .iter()
                .map(|(&id, t)| Send {
                    client: id,
                    redirect: t.redirect,
                    payload: Payload::Null {
                        resp3: clients
                            .get(id)
                            .is_some_and(|c| c.resp.load(Ordering::Relaxed) >= 3),
                    },
                })
                .collect()
        };
        self.deliver_all(clients, sends);
    }

    /// Remembers that `id` read `keys`; evicts keys over `max_keys` (0 = no limit) with an invalidation.
    pub fn remember_keys(
        &self,
        clients: &ClientRegistry,
        id: u64,
        keys: Vec<Bytes>,
        max_keys: usize,
    ) {
        let mut sends = Vec::new();
        {
            let mut s = self.state.lock();
            for k in keys {
                let ids = s.table.entry(k).or_default();
                if !ids.contains(&id) {
                    ids.push(id);
                    s.items += 1;
                }
            }
            evict_over(&mut s, max_keys, &mut sends);
            self.keys.store(s.table.len(), Ordering::Relaxed);
        }
        self.deliver_all(clients, sends);
    }

    /// Brings the table back under `tracking-table-max-keys` (lowered by CONFIG SET, say), as Redis
    /// checks before every command. One relaxed load when under the limit.
    pub fn enforce_limit(&self, clients: &ClientRegistry, max: usize) {
        if max == 0 || self.keys.load(Ordering::Relaxed) <= max {
            return;
        }
        let mut sends = Vec::new();
        {
            let mut s = self.state.lock();
            evict_over(&mut s, max, &mut sends);
            self.keys.store(s.table.len(), Ordering::Relaxed);
        }
        self.deliver_all(clients, sends);
    }

    fn deliver_all(&self, clients: &ClientRegistry, sends: Vec<Send>) {
        for send in sends {
            self.deliver(clients, send);
        }
    }

    /// Sends one invalidation as Redis does: to the client, or to its redirect target; a RESP2 client
    /// without a redirect gets nothing (RESP2 has no pushes); a vanished redirect target marks the
    /// redirect broken and tells a RESP3 client so.
    fn deliver(&self, clients: &ClientRegistry, send: Send) {
        let Some(own) = clients.get(send.client) else {
            return;
        };
        let (target, redirected) = if send.redirect != 0 {
            match clients.get(send.redirect) {
                Some(t) => (t, true),
                None => {
                    if let Some(t) = self.state.lock().clients.get_mut(&send.client) {
                        t.broken_redirect = true;
                    }
                    own.tracking
                        .fetch_or(flag::BROKEN_REDIRECT, Ordering::Relaxed);
                    if is_resp3(&own) {
                        let mut b = Vec::with_capacity(48);
                        b.extend_from_slice(b">2\r\n$21\r\ntracking-redir-broken\r\n:");
                        b.extend_from_slice(itoa::Buffer::new().format(send.redirect).as_bytes());
                        b.extend_from_slice(b"\r\n");
                        push(&own, &b);
                    }
                    return;
                }
            }
        } else {
            (own, false)
        };
        let mut b = Vec::with_capacity(64);
        if is_resp3(&target) {
            b.extend_from_slice(b">2\r\n$10\r\ninvalidate\r\n");
        } else if redirected && is_subscriber(&target) {
            b.extend_from_slice(b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n");
        } else {
            return;
        }
        match &send.payload {
            Payload::Keys(keys) => {
                header(&mut b, b'*', keys.len());
                for k in keys {
                    header(&mut b, b'$', k.len());
                    b.extend_from_slice(k);
                    b.extend_from_slice(b"\r\n");
                }
            }
            Payload::Null { resp3: true } => b.extend_from_slice(b"_\r\n"),
            Payload::Null { resp3: false } => b.extend_from_slice(b"$-1\r\n"),
        }
        push(&target, &b);
    }
}

/// Evicts arbitrary keys (hash order) until the table holds at most `max_keys` (0 = no limit).
fn evict_over(s: &mut State, max_keys: usize, sends: &mut Vec<Send>) {
    if max_keys > 0 && s.table.len() > max_keys {
        let over = s.table.len() - max_keys;
        let victims: Vec<Bytes> = s.table.keys().take(over).cloned().collect();
        for k in victims {
            invalidate_key(s, None, &k, sends);
        }
    }
}

/// Drops `key` from the table, queueing an invalidation for each default-mode client that read it.
fn invalidate_key(s: &mut State, origin: Option<u64>, key: &[u8], sends: &mut Vec<Send>) {
    let Some(ids) = s.table.remove(key) else {
        return;
    };
    s.items -= ids.len();
    for id in ids {
        let Some(t) = s.clients.get(&id) else {
            continue;
        };
        // A client that switched to BCAST no longer gets the keys it read before.
        if t.bcast || (t.noloop && origin == Some(id)) {
            continue;
        }
        sends.push(Send {
            client: id,
            redirect: t.redirect,
            payload: Payload::Keys(vec![Bytes::copy_from_slice(key)]),
        });
    }
}

fn header(b: &mut Vec<u8>, prefix: u8, n: usize) {
    b.push(prefix);
    b.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    b.extend_from_slice(b"\r\n");
}

fn is_resp3(c: &ClientInfo) -> bool {
    c.resp.load(Ordering::Relaxed) >= 3
}

// ---- Delivery: the only two places that hand bytes to other connections. ----

/// Queues already-encoded RESP `bytes` on connection `to` (dropped if it is over its output limit).
fn push(to: &ClientInfo, bytes: &[u8]) {
    to.push(bytes);
}

/// Whether `c` is in pub/sub mode (subscribed to something), so RESP2 messages may be sent to it.
fn is_subscriber(c: &ClientInfo) -> bool {
    c.in_pubsub()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(clients: &[(u64, bool, bool)], table: &[(&str, &[u64])]) -> State {
        let mut s = State::default();
        for &(id, bcast, noloop) in clients {
            s.clients.insert(
                id,
                Target {
                    bcast,
                    noloop,
                    ..Default::default()
                },
            );
        }
        for (k, ids) in table {
            s.table
                .insert(Bytes::copy_from_slice(k.as_bytes()), ids.to_vec());
            s.items += ids.len();
        }
        s
    }

    fn targets(sends: &[Send]) -> Vec<u64> {
        sends.iter().map(|s| s.client).collect()
    }

    #[test]
    fn a_changed_key_is_sent_to_each_reader_once_and_forgotten() {
        let mut s = state(&[(1, false, false), (2, false, false)], &[("k", &[1, 2])]);
        let mut sends = Vec::new();
        invalidate_key(&mut s, None, b"k", &mut sends);
        assert_eq!(targets(&sends), vec![1, 2]);
        assert!(s.table.is_empty());
        assert_eq!(s.items, 0);
        sends.clear();
        invalidate_key(&mut s, None, b"k", &mut sends);
        assert!(sends.is_empty());
    }

    #[test]
    fn noloop_bcast_and_departed_clients_are_skipped() {
        // 1: NOLOOP and the writer; 2: switched to BCAST; 3: tracking off (gone from the clients map).
        let mut s = state(
            &[(1, false, true), (2, true, false), (4, false, false)],
            &[("k", &[1, 2, 3, 4])],
        );
        let mut sends = Vec::new();
        invalidate_key(&mut s, Some(1), b"k", &mut sends);
        assert_eq!(targets(&sends), vec![4]);
    }

    #[test]
    fn eviction_brings_the_table_down_to_its_limit_with_invalidations() {
        let mut s = state(
            &[(7, false, false)],
            &[("a", &[7]), ("b", &[7]), ("c", &[7])],
        );
        let mut sends = Vec::new();
        evict_over(&mut s, 1, &mut sends);
        assert_eq!(s.table.len(), 1);
        assert_eq!(sends.len(), 2);
        sends.clear();
        evict_over(&mut s, 0, &mut sends);
        assert_eq!(s.table.len(), 1, "0 means no limit");
    }
}
