//! Keyspace notifications and client tracking: what the apply path tells the outside world about the
//! keys it changed.
//!
//! A handler records events with `Ctx::notify` while it runs; they wait in the unit's `Notes` and are
//! published (`__keyspace@<db>__:<key>` / `__keyevent@<db>__:<event>`) once the whole unit committed, so an
//! EXEC or a script delivers its events after the unit, in order. The keys a unit changed (taken from the
//! written commands' key specs, plus expiries and flushes) go to client tracking (`tracking`), which
//! invalidates the clients that read them. Both cost one relaxed atomic load per command and no
//! allocation while nobody asked for events and no client tracks.

pub mod tracking;

use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::clients::ClientRegistry;
use crate::config::Config;
use crate::pubsub::PubSub;

pub use crate::config::keyspace_events::class;

/// Whether flags `f` publish anything for events of class `c`.
#[inline]
pub fn wants(f: u32, c: u32) -> bool {
    f & c != 0 && f & (class::KEYSPACE | class::KEYEVENT) != 0
}

/// One keyspace event waiting for its unit to commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub db: usize,
    pub event: &'static str,
    pub key: Bytes,
}

/// What a unit of writes leaves for notifications and tracking; published by `unit_done`.
#[derive(Debug, Default)]
pub struct Notes {
    /// Keyspace events, in the order they happened.
    pub events: Vec<Event>,
    /// Keys the unit changed (recorded only while some client tracks).
    pub changed: Vec<Bytes>,
    /// The unit flushed a database: every tracking client gets a null invalidation.
    pub flushed: bool,
    /// Commands ran inside this unit (EXEC, a script): they recorded their own changed keys.
    pub nested: bool,
}

impl Notes {
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.changed.is_empty() && !self.flushed
    }
}

/// Server-wide notification state: the event flags (mirrored from `notify-keyspace-events` by the config)
/// and the tracking tables.
pub struct Notify {
    pub tracking: Arc<tracking::Tracking>,
}

impl Default for Notify {
    fn default() -> Self {
        Notify {
            tracking: Arc::new(tracking::Tracking::default()),
        }
    }
}

/// What notifications and tracking deliver through, borrowed from the server state for one call: the
/// config (event flags, tracking-table-max-keys), the client registry (invalidation pushes), the pub/sub
/// registry (event messages) and the tracking tables. Passing these, rather than the whole state, keeps
/// notify below the apply path that calls it.
#[derive(Clone, Copy)]
pub struct Outlets<'a> {
    pub config: &'a Config,
    pub clients: &'a ClientRegistry,
    pub pubsub: &'a PubSub,
    pub tracking: &'a tracking::Tracking,
}

/// The event flags now (one relaxed load).
#[inline]
pub fn event_flags(o: Outlets<'_>) -> u32 {
    o.config.notify_keyspace_events.load(Ordering::Relaxed)
}

/// Records event `event` of class `c` on `key` in database `db`, if anyone asked for it.
#[inline]
pub fn record(
    o: Outlets<'_>,
    notes: &mut Notes,
    db: usize,
    c: u32,
    event: &'static str,
    key: &[u8],
) {
    if wants(event_flags(o), c) {
        notes.events.push(Event {
            db,
            event,
            key: Bytes::copy_from_slice(key),
        });
    }
}

/// Records that `key` changed, for client tracking (nothing while no client tracks).
#[inline]
pub fn record_changed(o: Outlets<'_>, notes: &mut Notes, key: &[u8]) {
    if o.tracking.is_active() {
        notes.changed.push(Bytes::copy_from_slice(key));
    }
}

/// Publishes a committed unit's events and sends its invalidations. `origin` is the client whose unit it
/// was (None for the expirer), for NOLOOP.
pub fn unit_done(o: Outlets<'_>, origin: Option<u64>, notes: &mut Notes) {
    if notes.is_empty() {
        return;
    }
    publish_events(o, &notes.events);
    notes.events.clear();
    if notes.flushed {
        o.tracking.invalidate_all(o.clients, origin);
        notes.flushed = false;
    }
    if !notes.changed.is_empty() {
        o.tracking.invalidate(o.clients, origin, &notes.changed);
        notes.changed.clear();
    }
}

/// Publishes events on their keyspace and keyevent channels, as the flags say.
pub fn publish_events(o: Outlets<'_>, events: &[Event]) {
    if events.is_empty() {
        return;
    }
    let f = event_flags(o);
    let mut chan = Vec::with_capacity(64);
    for e in events {
        let mut db = itoa::Buffer::new();
        let db = db.format(e.db).as_bytes();
        if f & class::KEYSPACE != 0 {
            chan.clear();
            chan.extend_from_slice(b"__keyspace@");
            chan.extend_from_slice(db);
            chan.extend_from_slice(b"__:");
            chan.extend_from_slice(&e.key);
            o.pubsub.publish(&chan, e.event.as_bytes());
        }
        if f & class::KEYEVENT != 0 {
            chan.clear();
            chan.extend_from_slice(b"__keyevent@");
            chan.extend_from_slice(db);
            chan.extend_from_slice(b"__:");
            chan.extend_from_slice(e.event.as_bytes());
            o.pubsub.publish(&chan, &e.key);
        }
    }
}

/// A read found no `key` in `db`: the `keymiss` event (class `m`), published at once.
#[inline]
pub fn key_miss(o: Outlets<'_>, db: usize, key: &[u8]) {
    if wants(event_flags(o), class::KEY_MISS) {
        publish_events(
            o,
            &[Event {
                db,
                event: "keymiss",
                key: Bytes::copy_from_slice(key),
            }],
        );
    }
}

/// The active expirer removed `key` from `db`: its `expired` event and invalidation, recorded into
/// `notes` (published by the expirer with `unit_done` once its shard lock is released).
pub fn key_expired(o: Outlets<'_>, notes: &mut Notes, db: usize, key: &[u8]) {
    record(o, notes, db, class::EXPIRED, "expired", key);
    record_changed(o, notes, key);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::keyspace_events::parse_flags;

    #[test]
    fn events_need_a_class_and_a_channel_kind() {
        let f = parse_flags("Kl").unwrap_or(0);
        assert!(wants(f, class::LIST));
        assert!(!wants(f, class::SET));
        assert!(!wants(parse_flags("A").unwrap_or(0), class::LIST));
        assert!(!wants(parse_flags("KA").unwrap_or(0), class::NEW));
    }
}
