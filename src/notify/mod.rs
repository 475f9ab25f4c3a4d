//! Keyspace notifications and client tracking: what the apply path tells the outside world about the
//! keys it changed.
//!
//! A handler records events with `Ctx::notify` while it runs; they wait in the unit's `Notes` and are
//! published (`__keyspace@<db>__:<key>` / `__keyevent@<db>__:<event>`) once the whole unit committed, so an
//! EXEC or a script delivers its events after the unit, in order. The keys a unit changed (taken from the
//! written commands' key specs, plus expiries and flushes) go to client tracking (`tracking`), which
//! invalidates the clients that read them. Both cost one relaxed atomic load per command and no
//! allocation while nobody asked for events and no client tracks.

pub mod commands;
pub mod tracking;

use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::commands::Client;
use crate::commands::table::{CommandSpec, flags as cmd_flags};
use crate::server::Server;

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

/// The event flags now (one relaxed load).
#[inline]
pub fn event_flags(server: &Server) -> u32 {
    server.config.notify_keyspace_events.load(Ordering::Relaxed)
}

/// Records event `event` of class `c` on `key` in database `db`, if anyone asked for it.
#[inline]
pub fn record(
    server: &Server,
    notes: &mut Notes,
    db: usize,
    c: u32,
    event: &'static str,
    key: &[u8],
) {
    if wants(event_flags(server), c) {
        notes.events.push(Event {
            db,
            event,
            key: Bytes::copy_from_slice(key),
        });
    }
}

/// Records that `key` changed, for client tracking (nothing while no client tracks).
#[inline]
pub fn record_changed(server: &Server, notes: &mut Notes, key: &[u8]) {
    if server.notify.tracking.is_active() {
        notes.changed.push(Bytes::copy_from_slice(key));
    }
}

/// Called before a command runs for `client` (top level, in EXEC, or from a script): a tracking client
/// that runs a read-only command starts tracking the keys of `keys_of` (the command itself, or for a
/// command called by a script the script's declared keys, as Redis does). Done before the read so a
/// write racing with it is never missed (at worst an extra invalidation).
#[inline]
pub fn before_command(
    server: &Server,
    client: &Client,
    spec: &CommandSpec,
    keys_of: (&CommandSpec, &[Bytes]),
) {
    let tracking = &server.notify.tracking;
    if tracking.is_active() {
        tracking.enforce_limit(server);
    }
    if client.tracking.on
        && !client.tracking.bcast
        && spec.has(cmd_flags::READONLY)
        && !spec.has(cmd_flags::PUBSUB)
        && !spec.has(cmd_flags::CONCORD_SCRIPT)
    {
        tracking::remember(server, client, keys_of.0, keys_of.1);
    }
}

/// Called after a command ran. `wrote`: it changed something. `top`: it is the unit itself (not a command
/// inside EXEC or a script). Records the keys it wrote for tracking and ends a one-shot CLIENT CACHING.
#[inline]
pub fn after_command(
    server: &Server,
    client: &mut Client,
    spec: &CommandSpec,
    argv: &[Bytes],
    notes: &mut Notes,
    wrote: bool,
    top: bool,
) {
    if !top {
        notes.nested = true;
    }
    let tracking = &server.notify.tracking;
    if tracking.has_state() && spec.has(cmd_flags::CONCORD_FLUSHES) {
        notes.flushed = true;
    }
    if tracking.is_active() {
        // Checked after every command too, so lowering tracking-table-max-keys evicts at once.
        if top {
            tracking.enforce_limit(server);
        }
        if !notes.flushed && wrote && !(top && notes.nested) && spec.has(cmd_flags::WRITE) {
            crate::commands::keyspecs::written_keys(spec, argv, |k| notes.changed.push(k.clone()));
        }
    }
    // CLIENT CACHING applies to the next command, or to a whole MULTI ... EXEC.
    if top
        && client.tracking.caching
        && client.multi.is_none()
        && !spec.has(cmd_flags::CONCORD_KEEPS_CACHING)
    {
        client.tracking.caching = false;
    }
}

/// Publishes a committed unit's events and sends its invalidations. `origin` is the client whose unit it
/// was (None for the expirer), for NOLOOP.
pub fn unit_done(server: &Server, origin: Option<u64>, notes: &mut Notes) {
    if notes.is_empty() {
        return;
    }
    publish_events(server, &notes.events);
    notes.events.clear();
    if notes.flushed {
        server.notify.tracking.invalidate_all(server, origin);
        notes.flushed = false;
    }
    if !notes.changed.is_empty() {
        server
            .notify
            .tracking
            .invalidate(server, origin, &notes.changed);
        notes.changed.clear();
    }
}

/// Publishes events on their keyspace and keyevent channels, as the flags say.
pub fn publish_events(server: &Server, events: &[Event]) {
    if events.is_empty() {
        return;
    }
    let f = event_flags(server);
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
            tracking::publish(server, &chan, e.event.as_bytes());
        }
        if f & class::KEYEVENT != 0 {
            chan.clear();
            chan.extend_from_slice(b"__keyevent@");
            chan.extend_from_slice(db);
            chan.extend_from_slice(b"__:");
            chan.extend_from_slice(e.event.as_bytes());
            tracking::publish(server, &chan, &e.key);
        }
    }
}

/// A read found no `key` in `db`: the `keymiss` event (class `m`), published at once.
#[inline]
pub fn key_miss(server: &Server, db: usize, key: &[u8]) {
    if wants(event_flags(server), class::KEY_MISS) {
        publish_events(
            server,
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
pub fn key_expired(server: &Server, notes: &mut Notes, db: usize, key: &[u8]) {
    record(server, notes, db, class::EXPIRED, "expired", key);
    record_changed(server, notes, key);
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
