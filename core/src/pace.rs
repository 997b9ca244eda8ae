//! Long work done a part at a time, sans I/O.
//!
//! kpx-core's longest loops (writing a view's lines, one per rule of a 10,000-Service
//! dataplane) are `async` functions whose only await is [`Pace::unit`], once per unit of work.
//! Run with [`at_once`], they never stop: the CLI, the tests and small texts. Run through
//! [`InParts`], they stop once a step's units are spent and go on when stepped again: the page,
//! which must answer its reader between two parts (a 10,000-Service view's lines are 0.6 s of
//! the wasm). No executor and no runtime: the future is polled by hand, and nothing but a pace
//! ever makes it wait.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// When paced work pauses: never, or once its step's units are spent ([`InParts`]).
#[derive(Clone, Default)]
pub struct Pace(Option<Rc<Cell<usize>>>);

impl Pace {
    /// A pace that never pauses.
    pub fn never() -> Self {
        Pace(None)
    }

    /// One unit of work done: awaiting it pauses the work here if its step's units are spent.
    pub fn unit(&self) -> Unit<'_> {
        self.units(1)
    }

    /// `n` units of work done at once (lines copied in one go): awaiting them pauses the work
    /// here if they spent the step's units.
    pub fn units(&self, n: usize) -> Unit<'_> {
        Unit {
            left: self.0.as_deref(),
            n,
            paused: false,
        }
    }
}

/// The future of [`Pace::units`]: pending once if they were the step's last units, then ready.
pub struct Unit<'a> {
    left: Option<&'a Cell<usize>>,
    n: usize,
    paused: bool,
}

impl Future for Unit<'_> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _: &mut Context) -> Poll<()> {
        match self.left {
            Some(left) if !self.paused => {
                let n = left.get().saturating_sub(self.n);
                left.set(n);
                if n == 0 {
                    self.paused = true;
                    return Poll::Pending;
                }
                Poll::Ready(())
            }
            _ => Poll::Ready(()),
        }
    }
}

/// Runs paced work to its end in one go.
pub fn at_once<T>(work: impl Future<Output = T>) -> T {
    finish(std::pin::pin!(work))
}

/// Polls `work` to its end: one loop for [`at_once`] and [`InParts::finish`], through a vtable
/// (generic over the work, it was inlined into each caller; this saved 0.5 KB of the site).
fn finish<T>(mut work: Pin<&mut dyn Future<Output = T>>) -> T {
    let mut cx = Context::from_waker(Waker::noop());
    // A pace never pauses twice in a row, so this ends; with `Pace::never` it polls once.
    loop {
        if let Poll::Ready(out) = work.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// Paced work, done a step at a time.
pub struct InParts<'a, T> {
    work: Pin<Box<dyn Future<Output = T> + 'a>>,
    left: Rc<Cell<usize>>,
}

/// Where paced work stands after a step.
pub enum Step<'a, T> {
    Done(T),
    Paused(InParts<'a, T>),
}

impl<'a, T> InParts<'a, T> {
    /// The work `start` makes of the pace it is given (nothing runs before the first step).
    pub fn new<F: Future<Output = T> + 'a>(start: impl FnOnce(Pace) -> F) -> Self {
        let left = Rc::new(Cell::new(0));
        InParts {
            work: Box::pin(start(Pace(Some(left.clone())))),
            left,
        }
    }

    /// Works on for `units` more units (and whatever the work does between two of them).
    pub fn step(mut self, units: usize) -> Step<'a, T> {
        self.left.set(units);
        match self
            .work
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(out) => Step::Done(out),
            Poll::Pending => Step::Paused(self),
        }
    }

    /// The work's outcome, stepped `units` at a time to its end, and how many times it paused
    /// (the tests of paced work).
    #[cfg(test)]
    pub(crate) fn step_to_end(mut self, units: usize) -> (T, usize) {
        let mut pauses = 0;
        loop {
            match self.step(units) {
                Step::Done(out) => return (out, pauses),
                Step::Paused(more) => (self, pauses) = (more, pauses + 1),
            }
        }
    }

    /// The work's outcome, doing the rest of it in one go.
    pub fn finish(mut self) -> T {
        self.left.set(usize::MAX);
        finish(self.work.as_mut())
    }
}

/// A list that can be let go of an item at a time ([`drop_paced`]), whatever its items: one
/// loop serves every kind of list (the site's size).
pub trait Shrinking {
    /// Drops the last item: false once there was none.
    fn drop_last(&mut self) -> bool;
}

impl<T> Shrinking for Vec<T> {
    fn drop_last(&mut self) -> bool {
        self.pop().is_some()
    }
}

/// Empties `list` one item at a time, a unit of work each (a large list dropped whole is one
/// long piece of work).
pub async fn drop_paced(list: &mut dyn Shrinking, pace: &Pace) {
    while list.drop_last() {
        pace.unit().await;
    }
}

/// `items` in the order of `cmp` (not a stable sort), sorted a part at a time: runs of
/// [`SORTED_RUN`] sorted in place, then merged in pairs, one unit of work for about as much as a view writes for a
/// line. The listing order of a table's 617,750 chains at 44,125 Services was one piece of
/// 115 ms natively as one sort; as a whole this is about as fast.
pub async fn sort_by<T: Copy>(
    mut items: Vec<T>,
    cmp: &dyn Fn(&T, &T) -> std::cmp::Ordering,
    pace: &Pace,
) -> Vec<T> {
    let n = items.len();
    for run in items.chunks_mut(SORTED_RUN) {
        run.sort_unstable_by(cmp);
        for _ in 0..UNITS_PER_RUN {
            pace.unit().await;
        }
    }
    let mut into = Vec::with_capacity(n);
    let mut width = SORTED_RUN;
    while width < n {
        for start in (0..n).step_by(2 * width) {
            let (mid, end) = ((start + width).min(n), (start + 2 * width).min(n));
            let (mut left, mut right) = (start, mid);
            while left < mid && right < end {
                if cmp(&items[right], &items[left]).is_lt() {
                    into.push(items[right]);
                    right += 1;
                } else {
                    into.push(items[left]);
                    left += 1;
                }
                if into.len() % MERGED_PER_UNIT == 0 {
                    pace.unit().await;
                }
            }
            into.extend_from_slice(&items[left..mid]);
            into.extend_from_slice(&items[right..end]);
        }
        std::mem::swap(&mut items, &mut into);
        into.clear();
        width *= 2;
    }
    items
}

/// The indices `0..n` in the order of `cmp` over them, sorted as [`sort_by`] sorts (one
/// instantiation of it serves every keyed sort, and listings' chain names: the site's size).
async fn sort_indices(
    n: usize,
    cmp: &dyn Fn(usize, usize) -> std::cmp::Ordering,
    pace: &Pace,
) -> Vec<usize> {
    let by_index = |a: &(u128, usize), b: &(u128, usize)| cmp(a.1, b.1);
    let sorted = sort_by((0..n).map(|i| (0, i)).collect(), &by_index, pace).await;
    sorted.into_iter().map(|(_, i)| i).collect()
}

/// The positions of `items` in the order of their `key`s, each key made once (a unit of work
/// each: made at every comparison, a sort key cost a sort of 44,125 items most of a second),
/// ties in their order.
pub async fn order_by_key<'a, T, K: Ord>(
    items: &'a [T],
    key: impl Fn(&'a T) -> K,
    pace: &Pace,
) -> Vec<usize> {
    let mut keys = Vec::with_capacity(items.len());
    for item in items {
        keys.push(key(item));
        pace.unit().await;
    }
    let by_key = |a: usize, b: usize| keys[a].cmp(&keys[b]).then(a.cmp(&b));
    sort_indices(keys.len(), &by_key, pace).await
}

/// `items` sorted stably by `cmp`, at once: every other sort of kpx-core's. Rust's own sort is
/// a copy per item type and comparison, 2.5–4 KB of the site's wasm each (eleven of them were
/// 40 KB); this sorts positions through [`sort_by`]'s one copy, then moves the items there.
pub fn sort_stable_by<T>(items: &mut [T], cmp: impl Fn(&T, &T) -> std::cmp::Ordering) {
    if items.len() < 2 {
        return;
    }
    let by = |a: usize, b: usize| cmp(&items[a], &items[b]).then(a.cmp(&b));
    let mut order = at_once(sort_indices(items.len(), &by, &Pace::never()));
    // Item `order[i]` goes to place `i`: each cycle of the permutation is swapped round once,
    // its places marked done.
    const DONE: usize = usize::MAX;
    for start in 0..order.len() {
        let mut at = start;
        while order[at] != DONE {
            let from = std::mem::replace(&mut order[at], DONE);
            if from == start {
                break;
            }
            items.swap(at, from);
            at = from;
        }
    }
}

/// [`sort_stable_by`] a key.
pub fn sort_stable_by_key<T, K: Ord>(items: &mut [T], key: impl Fn(&T) -> K) {
    sort_stable_by(items, |a, b| key(a).cmp(&key(b)))
}

/// How [`sort_by`] weighs its work: natively, sorting a run of 256 chain names takes about
/// what writing eight lines of a view does, and merging 64 of them one line.
const SORTED_RUN: usize = 256;
const UNITS_PER_RUN: usize = 8;
const MERGED_PER_UNIT: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

    async fn count_to(n: usize, pace: Pace) -> Vec<usize> {
        let mut seen = vec![];
        for i in 0..n {
            seen.push(i);
            pace.unit().await;
        }
        seen
    }

    #[test]
    fn work_in_parts_stops_after_its_units_and_ends_as_at_once() {
        let (out, steps) = InParts::new(|pace| count_to(10, pace)).step_to_end(3);
        // 10 units in steps of 3: paused after units 3, 6 and 9, done in the fourth step.
        assert_eq!(steps, 3);
        assert_eq!(out, at_once(count_to(10, Pace::never())));
    }

    #[test]
    fn finishing_does_the_rest() {
        let Step::Paused(work) = InParts::new(|pace| count_to(10, pace)).step(2) else {
            panic!("ten units done in a step of two");
        };
        assert_eq!(work.finish(), (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn the_one_stable_sort_sorts_as_rusts_does() {
        // Keys with many ties (stability shows), at lengths round a run's.
        for n in [0, 1, 2, 3, 7, 255, 256, 257, 1000] {
            let items: Vec<(u8, usize)> = (0..n).map(|i| ((i * 7919 % 13) as u8, i)).collect();
            let mut want = items.clone();
            want.sort_by_key(|x| x.0);
            let mut got = items.clone();
            sort_stable_by_key(&mut got, |x| x.0);
            assert_eq!(got, want, "{n} items");
            sort_stable_by(&mut got, |a, b| b.cmp(a));
            want.sort_by(|a, b| b.cmp(a));
            assert_eq!(got, want, "{n} items, reversed");
        }
    }

    #[test]
    fn sorting_in_parts_pauses_and_sorts_as_a_sort_does() {
        for n in [0, 1, 255, 256, 257, 5_000] {
            // Many equal first numbers, to merge.
            let items: Vec<(u8, u32)> = (0..n)
                .map(|i: u32| ((i.wrapping_mul(2_654_435_761) >> 24) as u8, i))
                .collect();
            let mut want = items.clone();
            want.sort();
            let (got, steps) =
                InParts::new(|pace| async move { sort_by(items, &Ord::cmp, &pace).await })
                    .step_to_end(10);
            assert_eq!(got, want, "{n} items");
            if n == 5_000 {
                assert!(steps > 20, "{steps} pauses");
            }
        }
    }
}
