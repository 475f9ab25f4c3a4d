//! Per-shard expiry timing wheel: schedules opaque `u64` items (Concord stores key hashes) at absolute
//! millisecond deadlines and hands them back, in deadline order, once due. It owns only the schedule; the
//! caller re-checks the real key when an item fires, so stale entries (a TTL that was changed or removed) are
//! harmless and there is deliberately no delete operation.
//!
//! Layout: 6 levels of 64 slots, level `L` slots being 64^L ms wide, so the levels span one 2^36 ms (~2.2 year)
//! block. An entry sits at the level of the highest bit in which its deadline differs from the wheel's time,
//! which makes every entry of a lower level earlier than every entry of a higher one. When a higher-level slot
//! comes due its entries are re-placed (cascaded) relative to the slot's start, ending at level 0 on their exact
//! millisecond. Deadlines outside the current 2^36 block wait in an overflow list that is re-placed when the
//! wheel reaches their block. A 64-bit occupancy bitmap per level finds the next non-empty slot in O(levels),
//! so a clock jump costs work proportional to the entries it fires, not to the milliseconds skipped.

use std::collections::VecDeque;
use std::fmt;

const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
const LEVELS: usize = 6;
/// Deadlines whose bits above this differ from the wheel's time go to the overflow list.
const RANGE_MASK: u64 = (1 << (SLOT_BITS * LEVELS as u32)) - 1;
/// Emptied slot buffers up to this capacity are kept for reuse (cheap steady state); larger ones are freed so a
/// burst does not pin memory. Worst case retained: 384 slots * 8 * 16 B = 48 KiB.
const KEEP_SLOT_CAP: usize = 8;
/// The same bound for the two single-buffer lists (ready queue, overflow).
const KEEP_LIST_CAP: usize = 256;

/// (deadline_ms, item)
type Entry = (u64, u64);

/// Hierarchical timing wheel; see the module docs. Memory is 16 bytes per pending entry plus a fixed 9 KiB
/// slot table.
pub struct Wheel {
    /// Everything with a deadline <= this has been moved out of the levels; all level entries are later.
    elapsed: u64,
    /// `LEVELS * SLOTS` slot buffers, level-major.
    slots: Vec<Vec<Entry>>,
    occupied: [u64; LEVELS],
    /// Due entries not yet handed out: late inserts and what a poll left behind when it hit its limit.
    ready: VecDeque<Entry>,
    /// Min of every deadline pushed onto `ready` since it was last empty: a cheap lower bound of its contents.
    ready_floor: u64,
    overflow: Vec<Entry>,
    /// Exact min deadline in `overflow`, `u64::MAX` when empty.
    overflow_min: u64,
    len: usize,
}

impl Wheel {
    /// An empty wheel whose current time is `now_ms`.
    pub fn new(now_ms: u64) -> Self {
        Wheel {
            elapsed: now_ms,
            slots: (0..LEVELS * SLOTS).map(|_| Vec::new()).collect(),
            occupied: [0; LEVELS],
            ready: VecDeque::new(),
            ready_floor: u64::MAX,
            overflow: Vec::new(),
            overflow_min: u64::MAX,
            len: 0,
        }
    }

    /// Schedules `item` at absolute `deadline_ms`; a deadline <= the wheel's current time fires at the next poll.
    /// Amortized O(1). Duplicates are kept: each insert fires once.
    pub fn insert(&mut self, deadline_ms: u64, item: u64) {
        self.len += 1;
        self.place(deadline_ms, item);
    }

    /// Moves up to `limit` due entries (deadline <= now_ms) into `out` as (deadline_ms, item), in
    /// nondecreasing deadline order across calls as far as slot granularity allows (exact order at level 0), and
    /// advances the wheel's time to now_ms when everything due was returned. Returns true if the limit was hit
    /// and more due entries remain (the caller polls again later). `now_ms` going backwards is a no-op.
    ///
    /// Entries inserted already late are returned first, in insertion order; all others come out in exact
    /// deadline order. Cost: O(levels) per non-empty slot reached plus O(levels) amortized per entry returned.
    pub fn poll(&mut self, now_ms: u64, limit: usize, out: &mut Vec<(u64, u64)>) -> bool {
        if now_ms < self.elapsed {
            return false;
        }
        let mut budget = limit;
        loop {
            let take = budget.min(self.ready.len());
            out.extend(self.ready.drain(..take));
            budget -= take;
            self.len -= take;
            if !self.ready.is_empty() {
                return true;
            }
            self.ready_floor = u64::MAX;
            self.ready.shrink_to(KEEP_LIST_CAP);
            // Level entries always precede overflow entries, which live in later 2^36 blocks.
            let (start, slot) = match self.next_slot() {
                Some((level, slot, start)) => (start, Some((level, slot))),
                None if !self.overflow.is_empty() => (self.overflow_min & !RANGE_MASK, None),
                None => break,
            };
            if start > now_ms {
                break;
            }
            if budget == 0 {
                return true;
            }
            // Nothing is pending before `start`, so time may jump there; entries due exactly then become ready.
            self.elapsed = start;
            match slot {
                Some((level, slot)) => self.cascade_slot(level, slot),
                None => self.cascade_overflow(),
            }
        }
        // Every pending deadline is > now_ms and lies in the slots each is in relative to now_ms as well.
        self.elapsed = now_ms;
        false
    }

    /// A lower bound of the earliest pending deadline, or None if empty (lets the expirer sleep until then).
    /// Exact for level 0 and overflow entries; the start of its slot for entries on higher levels. O(levels).
    pub fn next_deadline(&self) -> Option<u64> {
        if !self.ready.is_empty() {
            return Some(self.ready_floor);
        }
        if let Some((_, _, start)) = self.next_slot() {
            return Some(start);
        }
        (!self.overflow.is_empty()).then_some(self.overflow_min)
    }

    /// Number of pending entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Drops every pending entry and frees their buffers; the wheel's time is kept.
    pub fn clear(&mut self) {
        self.slots.iter_mut().for_each(|slot| *slot = Vec::new());
        self.occupied = [0; LEVELS];
        self.ready = VecDeque::new();
        self.ready_floor = u64::MAX;
        self.overflow = Vec::new();
        self.overflow_min = u64::MAX;
        self.len = 0;
    }

    /// Heap bytes held (Vec capacities * 16 + fixed parts), for INFO memory. O(slots).
    pub fn heap_bytes(&self) -> usize {
        let entries = self.slots.iter().map(Vec::capacity).sum::<usize>()
            + self.ready.capacity()
            + self.overflow.capacity();
        entries * size_of::<Entry>() + self.slots.capacity() * size_of::<Vec<Entry>>()
    }

    /// Puts an entry where it belongs relative to `elapsed`, without touching `len`.
    fn place(&mut self, deadline: u64, item: u64) {
        if deadline <= self.elapsed {
            self.ready_floor = self.ready_floor.min(deadline);
            self.ready.push_back((deadline, item));
            return;
        }
        // deadline > elapsed, so they differ in at least one bit and the subtraction cannot underflow.
        let highest_diff_bit = 63 - (deadline ^ self.elapsed).leading_zeros();
        let level = (highest_diff_bit / SLOT_BITS) as usize;
        if level >= LEVELS {
            self.overflow_min = self.overflow_min.min(deadline);
            self.overflow.push((deadline, item));
            return;
        }
        let slot = (deadline >> (SLOT_BITS * level as u32)) as usize & (SLOTS - 1);
        self.slots[level * SLOTS + slot].push((deadline, item));
        self.occupied[level] |= 1 << slot;
    }

    /// The earliest non-empty slot as (level, slot, start time). Placement guarantees every occupied slot is
    /// after the wheel's position on its level and that the lowest non-empty level holds the earliest entries.
    fn next_slot(&self) -> Option<(usize, usize, u64)> {
        let level = self.occupied.iter().position(|&bits| bits != 0)?;
        let slot = self.occupied[level].trailing_zeros() as usize;
        let shift = SLOT_BITS * level as u32;
        let block = self.elapsed & !((1u64 << (shift + SLOT_BITS)) - 1);
        let start = block | (slot as u64) << shift;
        debug_assert!(
            start > self.elapsed,
            "slot {level}/{slot} is not in the future"
        );
        Some((level, slot, start))
    }

    /// Empties a slot whose start is now `elapsed`: its entries move to lower levels or to `ready`.
    fn cascade_slot(&mut self, level: usize, slot: usize) {
        self.occupied[level] &= !(1 << slot);
        let index = level * SLOTS + slot;
        let mut entries = std::mem::take(&mut self.slots[index]);
        for (deadline, item) in entries.drain(..) {
            self.place(deadline, item);
        }
        // Re-placed entries land strictly below `level`, so the slot is still empty and may take the buffer back.
        if entries.capacity() <= KEEP_SLOT_CAP {
            self.slots[index] = entries;
        }
    }

    /// Re-places overflow entries once `elapsed` reached the start of the earliest one's 2^36 block.
    fn cascade_overflow(&mut self) {
        let mut entries = std::mem::take(&mut self.overflow);
        self.overflow_min = u64::MAX;
        for (deadline, item) in entries.drain(..) {
            self.place(deadline, item);
        }
        if self.overflow.is_empty() {
            entries.shrink_to(KEEP_LIST_CAP);
            self.overflow = entries;
        }
    }
}

impl fmt::Debug for Wheel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wheel")
            .field("now_ms", &self.elapsed)
            .field("len", &self.len)
            .field("next_deadline", &self.next_deadline())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use std::time::{Duration, Instant};

    const YEAR_MS: u64 = 365 * 24 * 3600 * 1000;

    fn poll_all(wheel: &mut Wheel, now: u64) -> Vec<Entry> {
        let mut out = Vec::new();
        assert!(!wheel.poll(now, usize::MAX, &mut out));
        out
    }

    /// Deterministic xorshift so the big tests need no RNG dependency.
    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn entry_fires_exactly_at_its_deadline_and_not_before() {
        for delay in [
            1,
            63,
            64,
            65,
            4095,
            4096,
            300_000,
            1 << 36,
            (1 << 36) + 7,
            1 << 50,
        ] {
            let start = 1_000_003;
            let mut wheel = Wheel::new(start);
            wheel.insert(start + delay, 9);
            assert!(
                poll_all(&mut wheel, start + delay - 1).is_empty(),
                "delay {delay}"
            );
            assert_eq!(
                wheel.next_deadline().map(|d| d <= start + delay),
                Some(true)
            );
            assert_eq!(
                poll_all(&mut wheel, start + delay),
                vec![(start + delay, 9)]
            );
            assert!(wheel.is_empty());
        }
    }

    #[test]
    fn every_millisecond_fires_in_exact_order_when_polled_step_by_step() {
        let mut wheel = Wheel::new(0);
        let mut seed = 7;
        let deadlines: Vec<u64> = (0..2000)
            .map(|_| 1 + xorshift(&mut seed) % 20_000)
            .collect();
        for (item, &deadline) in deadlines.iter().enumerate() {
            wheel.insert(deadline, item as u64);
        }
        for now in 0..=20_000 {
            for (deadline, item) in poll_all(&mut wheel, now) {
                assert_eq!(deadline, now);
                assert_eq!(deadlines[item as usize], deadline);
            }
        }
        assert!(wheel.is_empty());
    }

    #[test]
    fn late_insert_fires_at_the_next_poll() {
        let mut wheel = Wheel::new(500);
        wheel.insert(10, 1);
        wheel.insert(500, 2);
        assert_eq!(wheel.next_deadline(), Some(10));
        assert_eq!(poll_all(&mut wheel, 500), vec![(10, 1), (500, 2)]);
        // The bound tracks what is pending now, not what was late before.
        wheel.insert(700, 3);
        wheel.insert(700, 4);
        let mut out = Vec::new();
        assert!(wheel.poll(900, 1, &mut out));
        assert_eq!(wheel.next_deadline(), Some(700));
    }

    #[test]
    fn limit_leaves_the_rest_for_later_polls_in_order() {
        let mut wheel = Wheel::new(0);
        for item in 0..10 {
            wheel.insert(100 + item % 4, item);
        }
        let mut out = Vec::new();
        assert!(wheel.poll(1000, 3, &mut out));
        assert!(wheel.poll(1000, 3, &mut out));
        assert!(wheel.poll(1000, 3, &mut out));
        assert!(!wheel.poll(1000, 3, &mut out));
        assert_eq!(out.len(), 10);
        assert!(out.windows(2).all(|w| w[0].0 <= w[1].0));
        assert!(wheel.is_empty());
    }

    #[test]
    fn limit_met_exactly_with_nothing_left_reports_no_more() {
        let mut wheel = Wheel::new(0);
        wheel.insert(5, 1);
        wheel.insert(6, 2);
        wheel.insert(50, 3);
        let mut out = Vec::new();
        assert!(!wheel.poll(10, 2, &mut out));
        assert!(wheel.poll(60, 0, &mut out));
        assert_eq!(out, vec![(5, 1), (6, 2)]);
    }

    #[test]
    fn backwards_clock_is_a_noop() {
        let mut wheel = Wheel::new(1000);
        wheel.insert(1200, 1);
        assert!(poll_all(&mut wheel, 1100).is_empty());
        wheel.insert(1050, 2);
        assert!(poll_all(&mut wheel, 1060).is_empty());
        assert!(poll_all(&mut wheel, 1099).is_empty());
        assert_eq!(wheel.len(), 2);
        assert_eq!(poll_all(&mut wheel, 1200), vec![(1050, 2), (1200, 1)]);
    }

    #[test]
    fn overflow_deadlines_survive_long_jumps() {
        let mut wheel = Wheel::new(0);
        let far = [1 << 36, (1 << 37) + 5, 1 << 45, u64::MAX - 1, u64::MAX];
        for (item, &deadline) in far.iter().enumerate() {
            wheel.insert(deadline, item as u64);
        }
        assert_eq!(wheel.next_deadline(), Some(1 << 36));
        assert!(poll_all(&mut wheel, (1 << 36) - 1).is_empty());
        let got: Vec<u64> = poll_all(&mut wheel, u64::MAX).iter().map(|e| e.0).collect();
        assert_eq!(got, far);
        assert_eq!(wheel.next_deadline(), None);
    }

    #[test]
    fn duplicates_each_fire_once() {
        let mut wheel = Wheel::new(0);
        for _ in 0..3 {
            wheel.insert(70, 4);
        }
        assert_eq!(poll_all(&mut wheel, 70), vec![(70, 4); 3]);
    }

    #[test]
    fn clear_drops_everything_and_frees_buffers() {
        let mut wheel = Wheel::new(0);
        let empty = wheel.heap_bytes();
        for item in 0..10_000 {
            wheel.insert(item * 1000 + 1, item);
        }
        wheel.insert(1 << 40, 1);
        assert!(wheel.heap_bytes() >= empty + 10_001 * 16);
        wheel.clear();
        assert_eq!((wheel.len(), wheel.next_deadline()), (0, None));
        assert_eq!(wheel.heap_bytes(), empty);
    }

    #[test]
    fn burst_memory_is_released_once_fired() {
        let mut wheel = Wheel::new(0);
        let empty = wheel.heap_bytes();
        for item in 0..200_000 {
            wheel.insert(1 + item % 50_000, item);
            wheel.insert(1 << 37, item);
        }
        let mut out = Vec::new();
        while wheel.poll(u64::MAX, 10_000, &mut out) {}
        assert_eq!(out.len(), 400_000);
        let retained = wheel.heap_bytes() - empty;
        assert!(retained <= (LEVELS * SLOTS * KEEP_SLOT_CAP + 2 * KEEP_LIST_CAP) * 16);
    }

    #[test]
    fn year_jump_over_a_million_entries_is_fast_and_ordered() {
        let mut wheel = Wheel::new(1_700_000_000_000);
        let mut seed = 42;
        for item in 0..1_000_000 {
            wheel.insert(1_700_000_000_000 + 1 + xorshift(&mut seed) % YEAR_MS, item);
        }
        let started = Instant::now();
        let mut out = Vec::with_capacity(1_000_000);
        assert!(!wheel.poll(1_700_000_000_000 + YEAR_MS, usize::MAX, &mut out));
        // Generous for unoptimized builds; an O(ms) scan would take minutes.
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(out.len(), 1_000_000);
        assert!(out.windows(2).all(|w| w[0].0 <= w[1].0));
        // Hourly jumps over a nearly empty wheel are O(levels) each.
        wheel.insert(u64::MAX, 0);
        let mut now = 1_700_000_000_000 + YEAR_MS;
        for _ in 0..100_000 {
            now += 3_600_000;
            assert!(poll_all(&mut wheel, now).is_empty());
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        /// Deadline relative to the latest polled time; negative means already late.
        Insert(i64),
        Poll {
            advance: u64,
            limit: usize,
        },
        PollBack(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        let offset = prop_oneof![
            -1000i64..=0,
            0i64..200,
            0i64..1 << 24,
            0i64..(1 << 36) + (1 << 30),
            (1i64 << 36)..1 << 42,
        ];
        let advance = prop_oneof![0u64..100, 0u64..5000, 0u64..1 << 30, 0u64..1 << 40];
        let limit = prop_oneof![0usize..4, Just(usize::MAX)];
        prop_oneof![
            4 => offset.prop_map(Op::Insert),
            2 => (advance, limit).prop_map(|(advance, limit)| Op::Poll { advance, limit }),
            1 => prop_oneof![0u64..3, 0u64..2000].prop_map(Op::PollBack),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn wheel_matches_a_sorted_model(
            start in prop_oneof![0u64..1 << 45, Just((1 << 36) - 3), Just(u64::MAX - (1 << 41))],
            ops in proptest::collection::vec(op(), 1..200),
        ) {
            let mut wheel = Wheel::new(start);
            // (deadline, id) -> inserted with a deadline after every time polled so far
            let mut model: BTreeMap<(u64, u64), bool> = BTreeMap::new();
            let (mut latest, mut settled) = (start, start);
            let mut last_future = 0;
            for (id, op) in ops.into_iter().enumerate() {
                let id = id as u64;
                let mut out = Vec::new();
                let (now, more) = match op {
                    Op::Insert(offset) => {
                        let deadline = latest.saturating_add_signed(offset);
                        wheel.insert(deadline, id);
                        model.insert((deadline, id), deadline > latest);
                        (None, false)
                    }
                    Op::Poll { advance, limit } => {
                        let now = latest.saturating_add(advance);
                        (Some(now), wheel.poll(now, limit, &mut out))
                    }
                    Op::PollBack(by) => {
                        let now = latest.saturating_sub(by);
                        (Some(now), wheel.poll(now, usize::MAX, &mut out))
                    }
                };
                if let Some(now) = now {
                    if now < settled {
                        prop_assert!(out.is_empty() && !more);
                    }
                    for &(deadline, item) in &out {
                        prop_assert!(deadline <= now, "fired {deadline} early at {now}");
                        let future = model.remove(&(deadline, item));
                        prop_assert!(future.is_some(), "unknown or duplicate ({deadline}, {item})");
                        if future == Some(true) {
                            prop_assert!(deadline >= last_future, "out of order");
                            last_future = deadline;
                        }
                    }
                    if now >= latest && !more {
                        prop_assert!(model.keys().all(|&(deadline, _)| deadline > now));
                        settled = now;
                    }
                    latest = latest.max(now);
                }
                prop_assert_eq!(wheel.len(), model.len());
                let min = model.keys().next().map(|&(deadline, _)| deadline);
                match (wheel.next_deadline(), min) {
                    (Some(bound), Some(min)) => prop_assert!(bound <= min),
                    (bound, min) => prop_assert_eq!(bound, min),
                }
            }
            let rest = poll_all(&mut wheel, u64::MAX);
            prop_assert_eq!(rest.len(), model.len());
            for entry in rest {
                prop_assert!(model.remove(&entry).is_some());
            }
            prop_assert!(wheel.is_empty());
        }
    }
}
