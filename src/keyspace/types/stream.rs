//! The stream value: entries ordered by ID, grouped in nodes the way Redis groups them in radix-tree
//! listpacks, plus the stream's bookkeeping (last generated ID, entries added, maximal deleted ID) and its
//! consumer groups with their pending entries lists.
//!
//! Nodes matter for behaviour, not only for memory: approximate trimming (`MAXLEN ~`, `MINID ~`) removes
//! whole nodes only, and XINFO reports the node count. A node takes new entries until it holds
//! `stream-node-max-entries` entries (deleted ones included, as Redis counts them) or its estimated
//! listpack size reaches `stream-node-max-bytes`; it is dropped once its last live entry is deleted.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

/// A stream entry ID, `<ms>-<seq>`, ordered as Redis orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub fn new(ms: u64, seq: u64) -> Self {
        StreamId { ms, seq }
    }

    pub fn is_zero(&self) -> bool {
        *self == Self::MIN
    }

    /// The next ID in order, or None after the maximal one.
    pub fn incr(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId::new(self.ms, self.seq + 1))
        } else if self.ms < u64::MAX {
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            None
        }
    }

    /// The previous ID in order, or None before 0-0.
    pub fn decr(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId::new(self.ms, self.seq - 1))
        } else if self.ms > 0 {
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            None
        }
    }

    /// The `<ms>-<seq>` text.
    pub fn to_bytes(self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// One entry: its ID and its field-value pairs, flattened (`f1 v1 f2 v2 ...`).
#[derive(Debug, Clone, PartialEq)]
pub struct StreamEntry {
    pub id: StreamId,
    pub fields: Box<[Box<[u8]>]>,
}

/// One listpack node: live entries in ID order, plus how many were deleted from it (they still count
/// towards the node's capacity, as Redis's tombstones do).
#[derive(Debug, Clone, PartialEq, Default)]
struct Node {
    entries: VecDeque<StreamEntry>,
    deleted: u64,
    /// Estimated listpack size in bytes.
    bytes: usize,
    /// The field names of the node's first entry (Redis's "master" fields); entries with the same names
    /// store only their values.
    master: Box<[Box<[u8]>]>,
}

/// Size of a listpack string element of `len` bytes (header, data, back-length).
fn lp_str_size(len: usize) -> usize {
    let hdr = if len < 64 {
        1
    } else if len < 4096 {
        2
    } else {
        5
    };
    let body = hdr + len;
    body + backlen_size(body)
}

/// Size of a listpack integer element. Signed, as listpack encodes it: an entry's seq delta from
/// its node's master ID is negative whenever the millisecond moved on (seq restarts at 0).
fn lp_int_size(v: i64) -> usize {
    let body = match v {
        0..=127 => 1,
        -4096..=4095 => 2,
        -32768..=32767 => 3,
        -8_388_608..=8_388_607 => 4,
        -2_147_483_648..=2_147_483_647 => 5,
        _ => 9,
    };
    body + backlen_size(body)
}

fn backlen_size(n: usize) -> usize {
    match n {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        _ => 4,
    }
}

/// Size of a value as a listpack stores it (canonical integers as integers).
fn lp_value_size(v: &[u8]) -> usize {
    match crate::util::numbers::parse_i64(v) {
        Some(n) if v.len() <= 20 => lp_int_size(n),
        _ => lp_str_size(v.len()),
    }
}

impl Node {
    fn new(first: &StreamEntry) -> Node {
        let master: Box<[Box<[u8]>]> = first.fields.iter().step_by(2).cloned().collect();
        // Header (6) and terminator (1), then count, deleted, field count, fields, master terminator.
        let mut bytes = 7 + lp_int_size(0) * 3 + lp_int_size(master.len() as i64);
        bytes += master.iter().map(|f| lp_value_size(f)).sum::<usize>();
        Node {
            entries: VecDeque::new(),
            deleted: 0,
            bytes,
            master,
        }
    }

    fn entry_size(&self, master_id: StreamId, e: &StreamEntry) -> usize {
        let same = e.fields.len() / 2 == self.master.len()
            && e.fields
                .iter()
                .step_by(2)
                .zip(self.master.iter())
                .all(|(a, b)| a == b);
        let mut n = lp_int_size(2) // flags
            + lp_int_size(e.id.ms.wrapping_sub(master_id.ms) as i64)
            + lp_int_size(e.id.seq.wrapping_sub(master_id.seq) as i64);
        if same {
            n += e
                .fields
                .iter()
                .skip(1)
                .step_by(2)
                .map(|v| lp_value_size(v))
                .sum::<usize>();
            n += lp_int_size(self.master.len() as i64 + 3);
        } else {
            n += lp_int_size(e.fields.len() as i64 / 2);
            n += e.fields.iter().map(|v| lp_value_size(v)).sum::<usize>();
            n += lp_int_size(e.fields.len() as i64 + 4);
        }
        n
    }
}

/// Limits read from the `stream-node-max-*` settings.
#[derive(Debug, Clone, Copy)]
pub struct NodeLimits {
    pub max_entries: u64,
    pub max_bytes: u64,
}

/// How to trim a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrimTo {
    MaxLen(u64),
    MinId(StreamId),
}

/// A pending (delivered, not yet acknowledged) message of a group.
#[derive(Debug, Clone, PartialEq)]
pub struct Nack {
    /// Server-clock ms of the last delivery.
    pub delivery_time: u64,
    pub delivery_count: u64,
    /// The consumer that owns it.
    pub consumer: Box<[u8]>,
}

/// A consumer of a group.
#[derive(Clone, PartialEq, Default)]
pub struct Consumer {
    /// Server-clock ms of the consumer's last read or claim attempt.
    pub seen_time: u64,
    /// IDs of the pending messages it owns (each has its `Nack` in the group's PEL).
    pub pel: BTreeSet<StreamId>,
}

// `seen_time` is access metadata, like a key's LRU clock: reads refresh it without being writes, so it
// is left out of the Debug form that replay-conformance dumps compare.
impl fmt::Debug for Consumer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer").field("pel", &self.pel).finish()
    }
}

/// A consumer group.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Group {
    pub last_id: StreamId,
    /// Logical read counter; None when unknown (Redis's -1).
    pub entries_read: Option<u64>,
    pub pel: BTreeMap<StreamId, Nack>,
    pub consumers: BTreeMap<Box<[u8]>, Consumer>,
}

impl Group {
    pub fn new(last_id: StreamId, entries_read: Option<u64>) -> Group {
        Group {
            last_id,
            entries_read,
            ..Default::default()
        }
    }

    /// Removes a pending message from the group and its owner. Returns whether it was pending.
    pub fn remove_nack(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(n) => {
                if let Some(c) = self.consumers.get_mut(&n.consumer) {
                    c.pel.remove(&id);
                }
                true
            }
            None => false,
        }
    }

    /// Makes `consumer` the owner of pending message `id` (creating the NACK with `time` and count 0 when
    /// absent); the caller sets the delivery metadata. The consumer must exist.
    pub fn assign(&mut self, id: StreamId, consumer: &[u8], time: u64) -> &mut Nack {
        let moved_from = match self.pel.get(&id) {
            None => {
                self.pel.insert(
                    id,
                    Nack {
                        delivery_time: time,
                        delivery_count: 0,
                        consumer: consumer.into(),
                    },
                );
                None
            }
            Some(n) if *n.consumer == *consumer => Some(None),
            Some(n) => Some(Some(n.consumer.clone())),
        };
        match moved_from {
            Some(None) => {}
            Some(Some(old)) => {
                if let Some(c) = self.consumers.get_mut(&old) {
                    c.pel.remove(&id);
                }
                if let Some(c) = self.consumers.get_mut(consumer) {
                    c.pel.insert(id);
                }
            }
            None => {
                if let Some(c) = self.consumers.get_mut(consumer) {
                    c.pel.insert(id);
                }
            }
        }
        let nack = self.pel.entry(id).or_insert_with(|| Nack {
            delivery_time: time,
            delivery_count: 0,
            consumer: Box::default(),
        });
        nack.consumer = consumer.into();
        nack
    }
}

/// A stream.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamValue {
    /// Nodes by the ID of the first entry ever stored in them.
    nodes: BTreeMap<StreamId, Node>,
    pub length: u64,
    pub last_id: StreamId,
    /// First live entry (0-0 when empty), as Redis records it.
    pub first_id: StreamId,
    pub max_deleted_id: StreamId,
    pub entries_added: u64,
    pub groups: BTreeMap<Box<[u8]>, Group>,
}

impl StreamValue {
    pub fn len(&self) -> u64 {
        self.length
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Redis's OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        "stream"
    }

    /// Number of nodes (XINFO `radix-tree-keys`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Appends an entry with an ID greater than `last_id` (the caller checked).
    pub fn append(&mut self, id: StreamId, fields: Box<[Box<[u8]>]>, lim: NodeLimits) {
        let entry = StreamEntry { id, fields };
        let max_bytes = if lim.max_bytes == 0 || lim.max_bytes > (1 << 30) {
            1 << 30
        } else {
            lim.max_bytes as usize
        };
        let add_len: usize = entry.fields.iter().map(|f| f.len()).sum();
        let need_new = match self.nodes.last_key_value() {
            None => true,
            Some((_, n)) => {
                n.bytes + add_len >= max_bytes
                    || (lim.max_entries != 0
                        && n.entries.len() as u64 + n.deleted >= lim.max_entries)
            }
        };
        if need_new {
            self.nodes.insert(id, Node::new(&entry));
        }
        if let Some(mut last) = self.nodes.last_entry() {
            let master_id = *last.key();
            let node = last.get_mut();
            node.bytes += node.entry_size(master_id, &entry);
            node.entries.push_back(entry);
        }
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
        if self.length == 1 {
            self.first_id = id;
        }
    }

    fn node_for(&self, id: StreamId) -> Option<(&StreamId, &Node)> {
        self.nodes.range(..=id).next_back()
    }

    /// The entry with this ID, if it exists.
    pub fn get(&self, id: StreamId) -> Option<&StreamEntry> {
        let (_, node) = self.node_for(id)?;
        let i = node.entries.binary_search_by(|e| e.id.cmp(&id)).ok()?;
        node.entries.get(i)
    }

    /// Entries with `start <= id <= end`, in ID order or reversed.
    pub fn range(
        &self,
        start: StreamId,
        end: StreamId,
        rev: bool,
    ) -> Box<dyn Iterator<Item = &StreamEntry> + '_> {
        if start > end {
            return Box::new(std::iter::empty());
        }
        let from = self
            .node_for(start)
            .map(|(k, _)| *k)
            .unwrap_or(StreamId::MIN);
        let nodes = self.nodes.range(from..=end);
        if rev {
            Box::new(
                nodes
                    .rev()
                    .flat_map(|(_, n)| n.entries.iter().rev())
                    .skip_while(move |e| e.id > end)
                    .take_while(move |e| e.id >= start),
            )
        } else {
            Box::new(
                nodes
                    .flat_map(|(_, n)| n.entries.iter())
                    .skip_while(move |e| e.id < start)
                    .take_while(move |e| e.id <= end),
            )
        }
    }

    pub fn first_entry(&self) -> Option<&StreamEntry> {
        self.nodes.values().find_map(|n| n.entries.front())
    }

    pub fn last_entry(&self) -> Option<&StreamEntry> {
        self.nodes.values().rev().find_map(|n| n.entries.back())
    }

    /// Deletes one entry (XDEL); updates the length, the first ID and the maximal deleted ID.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some(key) = self.node_for(id).map(|(k, _)| *k) else {
            return false;
        };
        let Some(node) = self.nodes.get_mut(&key) else {
            return false;
        };
        let Ok(i) = node.entries.binary_search_by(|e| e.id.cmp(&id)) else {
            return false;
        };
        node.entries.remove(i);
        node.deleted += 1;
        if node.entries.is_empty() {
            self.nodes.remove(&key);
        }
        self.length -= 1;
        if id > self.max_deleted_id {
            self.max_deleted_id = id;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if id == self.first_id {
            self.first_id = self.first_entry().map(|e| e.id).unwrap_or_default();
        }
        true
    }

    /// Trims from the head as Redis does: whole nodes while the whole node can go, then (unless
    /// `approx`) entries inside the next node. `limit` caps the entries removed (0 = no cap). Returns how
    /// many entries were removed.
    pub fn trim(&mut self, to: TrimTo, approx: bool, limit: u64) -> u64 {
        let mut deleted = 0u64;
        while let Some(mut first) = self.nodes.first_entry() {
            if let TrimTo::MaxLen(max) = to
                && self.length <= max
            {
                break;
            }
            let live = first.get().entries.len() as u64;
            if limit != 0 && deleted + live > limit {
                break;
            }
            let whole = match to {
                TrimTo::MaxLen(max) => self.length - live >= max,
                TrimTo::MinId(min) => first.get().entries.back().is_some_and(|e| e.id < min),
            };
            if whole {
                first.remove();
                self.length -= live;
                deleted += live;
                continue;
            }
            if approx {
                break;
            }
            let node = first.get_mut();
            while let Some(e) = node.entries.front() {
                let stop = match to {
                    TrimTo::MaxLen(max) => self.length <= max,
                    TrimTo::MinId(min) => e.id >= min,
                };
                if stop {
                    break;
                }
                node.entries.pop_front();
                node.deleted += 1;
                self.length -= 1;
                deleted += 1;
            }
            if node.entries.is_empty() {
                first.remove();
            }
            break;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if deleted > 0 {
            self.first_id = self.first_entry().map(|e| e.id).unwrap_or_default();
        }
        deleted
    }

    /// Whether `[start, end]` may hold a deleted entry (Redis's tombstone check for group lag).
    pub fn range_has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        if self.length == 0 || self.max_deleted_id.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted_id {
            return false;
        }
        start <= self.max_deleted_id && self.max_deleted_id <= end
    }

    /// The logical read counter of `id` (entries added up to it), when it can be known.
    pub fn estimate_distance(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.length == 0 && id <= self.last_id {
            return Some(self.entries_added);
        }
        match id.cmp(&self.last_id) {
            std::cmp::Ordering::Equal => return Some(self.entries_added),
            std::cmp::Ordering::Greater => return None,
            std::cmp::Ordering::Less => {}
        }
        if self.max_deleted_id.is_zero() || self.max_deleted_id < self.first_id {
            match id.cmp(&self.first_id) {
                std::cmp::Ordering::Less => return Some(self.entries_added - self.length),
                std::cmp::Ordering::Equal => return Some(self.entries_added - self.length + 1),
                std::cmp::Ordering::Greater => {}
            }
        }
        None
    }

    /// A group's lag (entries not yet delivered to it), when it can be known.
    pub fn lag(&self, g: &Group) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if let Some(read) = g.entries_read
            && !self.range_has_tombstones(g.last_id, StreamId::MAX)
        {
            return Some(self.entries_added.saturating_sub(read));
        }
        self.estimate_distance(g.last_id)
            .map(|read| self.entries_added.saturating_sub(read))
    }

    /// Advances a group past `id` (just delivered), keeping its read counter as Redis does.
    pub fn advance_group(&mut self, group: &[u8], id: StreamId) {
        let (has_tomb, est) = (
            self.range_has_tombstones(id, StreamId::MAX),
            self.estimate_distance(id),
        );
        let added = self.entries_added;
        let Some(g) = self.groups.get_mut(group) else {
            return;
        };
        if id <= g.last_id {
            return;
        }
        match g.entries_read {
            Some(n) if !has_tomb => g.entries_read = Some(n + 1),
            _ if added != 0 => g.entries_read = est,
            _ => {}
        }
        g.last_id = id;
    }

    /// Approximate heap bytes (memory accounting).
    pub fn heap_bytes(&self) -> usize {
        self.nodes.values().map(|n| n.bytes + 64).sum::<usize>()
            + self
                .groups
                .values()
                .map(|g| 64 + g.pel.len() * 64 + g.consumers.len() * 64)
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim(n: u64) -> NodeLimits {
        NodeLimits {
            max_entries: n,
            max_bytes: 4096,
        }
    }

    fn fields() -> Box<[Box<[u8]>]> {
        vec![
            b"f".to_vec().into_boxed_slice(),
            b"v".to_vec().into_boxed_slice(),
        ]
        .into()
    }

    fn stream(n: u64, per_node: u64) -> StreamValue {
        let mut s = StreamValue::default();
        for i in 1..=n {
            s.append(StreamId::new(i, 0), fields(), lim(per_node));
        }
        s
    }

    #[test]
    fn ids_step_across_the_sequence_boundary() {
        assert_eq!(StreamId::new(1, u64::MAX).incr(), Some(StreamId::new(2, 0)));
        assert_eq!(StreamId::new(2, 0).decr(), Some(StreamId::new(1, u64::MAX)));
        assert_eq!(StreamId::MAX.incr(), None);
        assert_eq!(StreamId::MIN.decr(), None);
    }

    #[test]
    fn nodes_fill_up_to_the_entry_limit() {
        let s = stream(25, 10);
        assert_eq!(s.node_count(), 3);
        assert_eq!(s.len(), 25);
    }

    #[test]
    fn ranges_run_both_ways_across_nodes() {
        let s = stream(25, 10);
        let ids: Vec<u64> = s
            .range(StreamId::new(8, 0), StreamId::new(12, 0), false)
            .map(|e| e.id.ms)
            .collect();
        assert_eq!(ids, vec![8, 9, 10, 11, 12]);
        let ids: Vec<u64> = s
            .range(StreamId::new(8, 0), StreamId::new(12, 0), true)
            .map(|e| e.id.ms)
            .collect();
        assert_eq!(ids, vec![12, 11, 10, 9, 8]);
    }

    #[test]
    fn approximate_trim_removes_whole_nodes_only() {
        let mut s = stream(25, 10);
        assert_eq!(s.trim(TrimTo::MaxLen(12), true, 0), 10);
        assert_eq!(s.len(), 15);
        assert_eq!(s.trim(TrimTo::MaxLen(12), false, 0), 3);
        assert_eq!(s.len(), 12);
        assert_eq!(s.first_id, StreamId::new(14, 0));
    }

    #[test]
    fn deleting_the_last_entry_of_a_node_drops_the_node() {
        let mut s = stream(3, 1);
        assert!(s.delete(StreamId::new(2, 0)));
        assert!(!s.delete(StreamId::new(2, 0)));
        assert_eq!(s.node_count(), 2);
        assert_eq!(s.max_deleted_id, StreamId::new(2, 0));
    }
}
