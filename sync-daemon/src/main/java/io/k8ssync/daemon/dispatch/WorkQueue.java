package io.k8ssync.daemon.dispatch;

import io.k8ssync.sink.PodChange;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

/**
 * A keyed work queue with client-go's semantics ({@code util/workqueue}), carrying the change
 * itself rather than only the key:
 * <ul>
 *   <li>a key is queued at most once: a change added while one is pending merges into it
 *       ({@link PodChange#then}), so a slow sink sees the oldest "before" and the newest "after";</li>
 *   <li>a key is never handed to two workers at once: a change added while its key is being
 *       processed waits and runs again after {@link #done};</li>
 *   <li>a failed change goes back with {@link #retry}, merged in front of anything newer, and the
 *       key stays blocked until its backoff has passed, so per-pod order holds across failures;</li>
 *   <li>the number of pending keys is bounded: {@link #add} refuses a new key when full (the
 *       caller counts and logs it); merges, retries and the next state of a key in flight are
 *       always taken. Changes held for another replica ({@link #park}) have a bound of their own,
 *       the same capacity again, so a backlog for a cluster led elsewhere never crowds out the
 *       changes this replica applies;</li>
 *   <li>a key can be parked for another replica ({@link #park}); parked changes are not lag, can
 *       expire ({@link #expireParked}) and are discarded at shutdown;</li>
 *   <li>changes held for another replica, or replayed from it, merge so that every registration
 *       that replica may have put online is still taken offline ({@link PodChange#keepingOnline});
 *       a coalescing queue then hands out that list one change at a time, so a sink still gets
 *       one change per pod at once.</li>
 * </ul>
 * Thread-safe; one lock guards all state.
 */
public final class WorkQueue {

  /**
   * The changes of one pod handed to a worker, oldest first: one (merged) change in a coalescing
   * queue, every change in order in one that keeps them. {@code since} is when the oldest was
   * queued, {@code latest} when the newest was (nanoTime).
   */
  public record Item(String key, List<PodChange> changes, long since, long latest) {
    public Item {
      changes = List.copyOf(changes);
    }

    /** All of them as one change: the oldest before, the newest after. */
    public PodChange change() {
      PodChange merged = changes.get(0);
      for (int i = 1; i < changes.size(); i++) {
        merged = merged.then(changes.get(i));
      }
      return merged;
    }
  }

  /** Changes not yet taken: {@code since} when the oldest was queued, {@code latest} the newest (nanoTime). */
  private record Pending(List<PodChange> changes, long since, long latest) {}

  /** What {@link #add} did with a change. */
  public enum Outcome {
    QUEUED, MERGED, FULL,
    /** Full of changes held for another replica. */
    FULL_HELD,
    SHUT_DOWN
  }

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition notEmpty = lock.newCondition();
  private final Condition idle = lock.newCondition();
  private final ArrayDeque<String> ready = new ArrayDeque<>();
  private final Map<String, Pending> dirty = new HashMap<>();
  /** Keys handed to a worker, with what it was handed (its {@code since} counts for the lag). */
  private final Map<String, Item> processing = new HashMap<>();
  private final Set<String> blocked = new HashSet<>();
  /** Blocked keys held back for another replica (their cluster is led elsewhere): key to cluster. */
  private final Map<String, String> parked = new HashMap<>();
  /**
   * Keys with changes held for another replica (parked, added while another replica led, or
   * released and not yet applied): their changes merge with {@link PodChange#keepingOnline}.
   */
  private final Set<String> held = new HashSet<>();
  /**
   * Keys a takeover released as fresh ({@link #releaseParked(java.util.function.Predicate, long)}),
   * waiting at the front of {@code ready}: handed out in batches of their own.
   */
  private final Set<String> fresh = new HashSet<>();
  /** Fresh keys handed to a worker and not yet done: no other key is handed out meanwhile. */
  private final Set<String> freshInFlight = new HashSet<>();
  /**
   * Per cluster, when its informers' initial list was in (nanoTime): what came before is the
   * cluster's state, not news, and a takeover replays it rather than writing it first.
   */
  private final Map<String, Long> listedAt = new HashMap<>();
  /**
   * Keys held or parked in the fresh window ({@link #holdFreshFor}), after their cluster's initial
   * list (only those can be fresh), at most {@code 2 × capacity}: where a takeover finds its fresh keys.
   */
  private final RecentlyHeld recent;
  private final int capacity;
  private final LongSupplier nanoTime;
  private final boolean coalesce;
  /** The sink's rule for "desired online" (its selector included), for held merges. */
  private final java.util.function.Predicate<io.k8ssync.sink.PodState> online;
  /** Changes held in {@code dirty}: one per key when coalescing. */
  private int pendingChanges;
  /** Of those, the changes of parked keys. */
  private int parkedChanges;
  private boolean shuttingDown;
  /** Set with every key made ready, cleared by the take that empties {@code ready}: read without the lock. */
  private volatile boolean readyHint;
  /** How often an idle worker yields before it parks (see {@link #take(List, int, long, TimeUnit)}). */
  private static final int YIELDS_BEFORE_PARKING = 4;

  public WorkQueue(int capacity, LongSupplier nanoTime) {
    this(capacity, nanoTime, true);
  }

  /**
   * @param coalesce true: changes of a pod that pile up merge into one; false: every change is
   *                 kept, in order (for event streams), and the capacity bounds pending changes
   */
  public WorkQueue(int capacity, LongSupplier nanoTime, boolean coalesce) {
    this(capacity, nanoTime, coalesce, io.k8ssync.sink.Registration::desiredOnline);
  }

  /** @param online the sink's rule for "desired online", its selector included (for held merges) */
  public WorkQueue(int capacity, LongSupplier nanoTime, boolean coalesce, java.util.function.Predicate<io.k8ssync.sink.PodState> online) {
    if (capacity < 1) {
      throw new IllegalArgumentException("capacity must be positive");
    }
    this.capacity = capacity;
    this.recent = new RecentlyHeld(2L * capacity);
    this.nanoTime = nanoTime;
    this.coalesce = coalesce;
    this.online = online;
  }

  /**
   * {@code older} followed by {@code newer} of {@code key}, as this queue keeps them: one merged
   * change, or for a held key every registration that may be online (a list only held keys have).
   */
  private List<PodChange> join(String key, List<PodChange> older, List<PodChange> newer) {
    if (newer.isEmpty()) {
      return older;
    }
    if (coalesce) {
      if (held.contains(key) || older.size() > 1 || newer.size() > 1) {
        return PodChange.keepingOnline(older, newer, online);
      }
      return List.of(older.get(0).then(newer.get(0)));
    }
    List<PodChange> all = new ArrayList<>(older.size() + newer.size());
    all.addAll(older);
    all.addAll(newer);
    return all;
  }

  public Outcome add(PodChange change) {
    return add(change, false);
  }

  /**
   * As {@link #add(PodChange)}; {@code heldForAnother} says the change belongs to a cluster another
   * replica leads, so merging it keeps a state that was online (as a parked key does) from the start.
   */
  public Outcome add(PodChange change, boolean heldForAnother) {
    String key = change.key();
    lock.lock();
    try {
      if (shuttingDown) {
        return Outcome.SHUT_DOWN;
      }
      Pending pending = dirty.get(key);
      long now = nanoTime.getAsLong();
      boolean parkedKey = !parked.isEmpty() && parked.containsKey(key);
      if (pending != null && coalesce) {
        if (heldForAnother) {
          held.add(key);
        }
        dirty.put(key, new Pending(join(key, pending.changes(), List.of(change)), pending.since(), now));
        rememberHeld(key, change, parkedKey, heldForAnother, now);
        return Outcome.MERGED;
      }
      // A pod being applied right now always gets its newest state queued (at most one extra key
      // per worker): refusing it would leave the sink with an older state than the cache.
      boolean full;
      if (heldForAnother || parkedKey) {
        // Held for another replica: parked ones are bounded, and with them all a queue holds.
        int all = coalesce ? dirty.size() : pendingChanges;
        full = (coalesce ? parked.size() : parkedChanges) >= capacity || all >= 2L * capacity;
      } else {
        full = coalesce ? dirty.size() - parked.size() >= capacity && !processing.containsKey(key)
            : pendingChanges - parkedChanges >= capacity;
      }
      if (full) {
        return heldForAnother || parkedKey ? Outcome.FULL_HELD : Outcome.FULL;
      }
      if (heldForAnother) {
        held.add(key);
      }
      pendingChanges++;
      if (parkedKey) {
        parkedChanges++;
      }
      rememberHeld(key, change, parkedKey, heldForAnother, now);
      if (pending != null) {
        dirty.put(key, new Pending(join(key, pending.changes(), List.of(change)), pending.since(), now));
        return Outcome.MERGED;
      }
      dirty.put(key, new Pending(List.of(change), now, now));
      if (!processing.containsKey(key) && (blocked.isEmpty() || !blocked.contains(key))) {
        ready.addLast(key);
        readyHint = true;
        notEmpty.signal();
      }
      return Outcome.QUEUED;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Waits up to {@code timeout} for work and takes up to {@code max} items of distinct keys.
   * Returns an empty list on timeout, or when shut down with nothing left to do.
   */
  public List<Item> take(int max, long timeout, TimeUnit unit) throws InterruptedException {
    return take(List.of(), max, timeout, unit);
  }

  /**
   * {@link #done} for each of {@code finished}, then {@link #take(int, long, TimeUnit)}, under one
   * lock: a worker that keeps up hands back its batch and takes the next without a second round
   * trip through the lock the informer's thread adds under.
   */
  public List<Item> take(List<Item> finished, int max, long timeout, TimeUnit unit) throws InterruptedException {
    long waitNanos = unit.toNanos(timeout);
    lock.lock();
    try {
      for (Item item : finished) {
        finish(item);
      }
      boolean yielded = false;
      while (ready.isEmpty() || behindFresh()) {
        if (waitNanos <= 0 || (shuttingDown && dirty.isEmpty() && blocked.isEmpty())) {
          return List.of();
        }
        if (!yielded) {
          // Give the adding thread the core for a moment before parking: work that comes meanwhile
          // is taken without a park here and a wake-up (a system call) on the adding thread.
          yielded = true;
          lock.unlock();
          try {
            for (int i = 0; i < YIELDS_BEFORE_PARKING && !readyHint; i++) {
              Thread.yield();
            }
          } finally {
            lock.lock();
          }
          continue;
        }
        waitNanos = notEmpty.awaitNanos(waitNanos);
      }
      List<Item> items = new ArrayList<>(Math.min(max, ready.size()));
      boolean freshBatch = !fresh.isEmpty() && fresh.contains(ready.peekFirst());
      while (items.size() < max && !ready.isEmpty()) {
        if (freshBatch != (!fresh.isEmpty() && fresh.contains(ready.peekFirst()))) {
          break; // fresh changes and the rest never share a batch
        }
        String key = ready.pollFirst();
        if (freshBatch) {
          fresh.remove(key);
          freshInFlight.add(key);
        }
        Pending p = dirty.remove(key);
        Item item;
        if (coalesce && p.changes().size() > 1) {
          // A held list: one change now, the rest once it is done (a sink gets one change per pod at once).
          dirty.put(key, new Pending(p.changes().subList(1, p.changes().size()), p.since(), p.latest()));
          item = new Item(key, p.changes().subList(0, 1), p.since(), p.latest());
        } else {
          pendingChanges -= coalesce ? 1 : p.changes().size();
          item = new Item(key, p.changes(), p.since(), p.latest());
        }
        processing.put(key, item);
        items.add(item);
      }
      readyHint = !ready.isEmpty();
      return items;
    } finally {
      lock.unlock();
    }
  }

  /** The worker finished {@code item}; a change that arrived meanwhile becomes ready. */
  public void done(Item item) {
    lock.lock();
    try {
      finish(item);
    } finally {
      lock.unlock();
    }
  }

  /** {@link #done} for each of {@code items}, under one lock. */
  public void done(List<Item> items) {
    if (items.isEmpty()) {
      return;
    }
    lock.lock();
    try {
      for (Item item : items) {
        finish(item);
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * True while a fresh key is being applied and the next key in line is not fresh: it waits, so
   * the fresh change is written before anything else (replays, passes' worth of changes); under the lock.
   */
  private boolean behindFresh() {
    return !freshInFlight.isEmpty() && !fresh.contains(ready.peekFirst());
  }

  /** {@code key} is no longer in flight; under the lock. */
  private void notProcessing(String key) {
    processing.remove(key);
    if (!freshInFlight.isEmpty() && freshInFlight.remove(key) && freshInFlight.isEmpty()) {
      notEmpty.signalAll(); // what waited behind the fresh changes may go
    }
  }

  /** {@link #done}, under the lock. */
  private void finish(Item item) {
    String key = item.key();
    boolean wasFresh = !freshInFlight.isEmpty() && freshInFlight.contains(key);
    notProcessing(key);
    if (!dirty.containsKey(key)) {
      if (!held.isEmpty()) {
        held.remove(key); // applied: from now on the sink itself knows what it put online
      }
    } else if (blocked.isEmpty() || !blocked.contains(key)) {
      if (wasFresh) {
        fresh.add(key); // the rest of a fresh pod's held changes, or what came meanwhile: still ahead of the replays
        ready.addFirst(key);
      } else {
        ready.addLast(key);
      }
      readyHint = true;
      notEmpty.signal();
    }
    signalIfIdle();
  }

  /**
   * The worker failed {@code item} and will try again: the change is merged in front of anything
   * newer for the same key and the key stays blocked until {@link #release} is called after the
   * backoff.
   */
  public void retry(Item item) {
    lock.lock();
    try {
      putBack(item);
    } finally {
      lock.unlock();
    }
  }

  /** {@code item} back in front of anything newer of its key, which stays blocked; under the lock. */
  private void putBack(Item item) {
    String key = item.key();
    notProcessing(key);
    Pending newer = dirty.get(key);
    List<PodChange> all = join(key, item.changes(), newer == null ? List.of() : newer.changes());
    pendingChanges += coalesce ? (newer == null ? 1 : 0) : item.changes().size();
    dirty.put(key, new Pending(all, item.since(), newer == null ? item.latest() : newer.latest()));
    blocked.add(key);
  }

  /** The backoff of {@code key} has passed: it may run again. */
  public void release(String key) {
    lock.lock();
    try {
      if (parked.containsKey(key)) {
        return; // held for another replica: only releaseParked lets it go
      }
      if (blocked.remove(key) && dirty.containsKey(key) && !processing.containsKey(key)) {
        ready.addLast(key);
        readyHint = true;
        notEmpty.signal();
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * Forgets parked changes (see {@link #park}) whose newest change is older than {@code maxAgeNanos}:
   * the leader of their cluster applied them long ago. Returns the changes removed.
   */
  public int expireParked(long maxAgeNanos) {
    lock.lock();
    try {
      long cutoff = nanoTime.getAsLong() - maxAgeNanos;
      return removeIf(e -> parked.containsKey(e.getKey()) && e.getValue().latest() - cutoff < 0);
    } finally {
      lock.unlock();
    }
  }

  /** Forgets every parked change, and parks nothing more once shut down (a leaving replica's last step). */
  public int discardParked() {
    lock.lock();
    try {
      return removeIf(e -> parked.containsKey(e.getKey()));
    } finally {
      lock.unlock();
    }
  }

  /**
   * Holds {@code item} back for another replica, untouched and in order with what came meanwhile,
   * until {@link #releaseParked} finds {@code cluster} led here. Once shut down, the item and what
   * came meanwhile are dropped instead: the cluster's leader applies them. Returns how many changes
   * were dropped: 0 when parked.
   */
  public int park(Item item, String cluster) {
    String key = item.key();
    lock.lock();
    try {
      if (shuttingDown) {
        notProcessing(key);
        held.remove(key);
        fresh.remove(key);
        Pending newer = dirty.remove(key);
        if (newer != null) {
          pendingChanges -= coalesce ? 1 : newer.changes().size();
        }
        ready.remove(key);
        signalIfIdle();
        return item.changes().size() + (newer == null ? 0 : newer.changes().size());
      }
      // As retry, but held: the merge keeps every registration that may be online.
      held.add(key);
      putBack(item);
      parked.put(key, cluster);
      Pending p = dirty.get(key);
      parkedChanges += count(p);
      if (afterList(p.latest(), cluster)) {
        recent.add(key, nanoTime.getAsLong()); // applied here, or taken, before its cluster went elsewhere
      }
      return 0;
    } finally {
      lock.unlock();
    }
  }

  /** Parked keys whose cluster {@code led} accepts run again, newest first, behind what waits already. */
  public void releaseParked(java.util.function.Predicate<String> led) {
    releaseParked(led, 0);
  }

  /**
   * Parked keys whose cluster {@code led} accepts run again, newest first. Those whose newest change
   * came within {@code freshNanos} (the old leader was dying or gone: most likely nobody applied
   * them), and after their cluster's initial list ({@link #initialListDone}), go ahead of
   * everything waiting, in batches of their own, and nothing else is handed out
   * while one of them is being applied; the rest wait behind what waits already.
   */
  public void releaseParked(java.util.function.Predicate<String> led, long freshNanos) {
    releaseFreshFirst(led, freshNanos).run();
  }

  /**
   * {@code cluster}'s informers delivered their initial list: from now on its changes are watch
   * events, which a takeover may write first ({@link #releaseFreshFirst}); its listed ones never are.
   */
  public void initialListDone(String cluster) {
    lock.lock();
    try {
      listedAt.putIfAbsent(cluster, nanoTime.getAsLong());
    } finally {
      lock.unlock();
    }
  }

  /**
   * Keeps, for {@code nanos}, which held keys changed, so a takeover whose fresh window is no longer
   * finds its fresh keys among those alone ({@link #releaseFreshFirst}). Call before changes come.
   */
  public void holdFreshFor(long nanos) {
    lock.lock();
    try {
      recent.window(nanos);
    } finally {
      lock.unlock();
    }
  }

  /** An add of a held or parked key, after its cluster's list, goes in {@code recent}; under the lock. */
  private void rememberHeld(String key, PodChange change, boolean parkedKey, boolean heldForAnother, long now) {
    if (recent.window() > 0 && (parkedKey || heldForAnother)) {
      String cluster = parkedKey ? parked.get(key) : change.latest().cluster();
      if (afterList(now, cluster)) {
        recent.add(key, now);
      }
    }
  }

  /** True when {@code at} (nanoTime) came after {@code cluster}'s initial list; under the lock. */
  private boolean afterList(long at, String cluster) {
    Long listed = listedAt.get(cluster);
    return listed != null && at - listed > 0;
  }

  /** A change that came after {@code cutoff} and after its cluster's initial list; under the lock. */
  private boolean isFresh(Pending p, String cluster, long cutoff) {
    return p.latest() - cutoff >= 0 && afterList(p.latest(), cluster);
  }

  /** A released key and when its newest change came (nanoTime). */
  private record Released(String key, long latest) {}

  /** Newest first: the old leader most likely never applied the last changes before it went. */
  private static final java.util.Comparator<Released> NEWEST_FIRST = java.util.Comparator.comparingLong(Released::latest).reversed();

  /**
   * The first step of {@link #releaseParked(java.util.function.Predicate, long)}: the fresh keys are
   * runnable when this returns; the step returned unparks the rest, sorts them newest first outside
   * the lock and queues them. Until it runs they stay parked, and what arrives for them merges as
   * usual. With a fresh window up to {@link #holdFreshFor}'s, the fresh keys are found among the keys
   * held in that window alone; else in one pass over every parked key. With {@code freshNanos} 0 all
   * is done here and the step returned does nothing.
   */
  public Runnable releaseFreshFirst(java.util.function.Predicate<String> led, long freshNanos) {
    List<Released> rest = new ArrayList<>();
    lock.lock();
    // Under the lock: an add that took it first may have dropped entries older than its own window.
    long cutoff = nanoTime.getAsLong() - freshNanos;
    boolean recentOnly = recent.covers(freshNanos, cutoff);
    try {
      List<Released> freshOnes = new ArrayList<>();
      if (recentOnly) {
        unparkRecentFresh(led, cutoff, freshOnes);
      } else {
        unpark(led, freshNanos > 0, cutoff, freshOnes, rest);
      }
      // Each key holds all its own changes, so a pod's order is untouched by any of this.
      queueFresh(freshOnes);
      if (freshNanos <= 0) {
        // A pod that turned ready while nobody led must not wait behind thousands of replays the old leader did apply.
        rest.sort(NEWEST_FIRST);
        rest.forEach(r -> ready.addLast(r.key()));
        rest.clear();
      }
      if (!ready.isEmpty()) {
        readyHint = true;
        notEmpty.signalAll();
      }
    } finally {
      lock.unlock();
    }
    if (!recentOnly && rest.isEmpty()) {
      return () -> { };
    }
    return () -> {
      if (recentOnly) {
        lock.lock();
        try {
          // Fresh ones here are of a cluster led only since the first step (another cluster's takeover at
          // the same moment): still fresh, as one pass over every key would have found them.
          List<Released> lateFresh = new ArrayList<>();
          unpark(led, true, cutoff, lateFresh, rest);
          queueFresh(lateFresh);
          if (!lateFresh.isEmpty()) {
            readyHint = true;
            notEmpty.signalAll(); // not behind the sort below
          }
        } finally {
          lock.unlock();
        }
      }
      rest.sort(NEWEST_FIRST);
      lock.lock();
      try {
        for (Released r : rest) {
          String key = r.key();
          if (dirty.containsKey(key) && !processing.containsKey(key) && !parked.containsKey(key) && !blocked.contains(key)) {
            ready.addLast(key);
          }
        }
        readyHint = !ready.isEmpty();
        notEmpty.signalAll();
      } finally {
        lock.unlock();
      }
    };
  }

  /** {@code freshOnes} at the front of {@code ready}, newest first, handed out in batches of their own; under the lock. */
  private void queueFresh(List<Released> freshOnes) {
    freshOnes.sort(NEWEST_FIRST);
    for (int i = freshOnes.size() - 1; i >= 0; i--) {
      ready.addFirst(freshOnes.get(i).key());
      fresh.add(freshOnes.get(i).key());
    }
  }

  /**
   * Unparks every parked key of a cluster {@code led} accepts: to {@code freshOnes} when
   * {@code pickFresh} and it is fresh after {@code cutoff}, else to {@code rest}; under the lock.
   */
  private void unpark(java.util.function.Predicate<String> led, boolean pickFresh, long cutoff, List<Released> freshOnes,
                      List<Released> rest) {
    var it = parked.entrySet().iterator();
    while (it.hasNext()) {
      var e = it.next();
      if (led.test(e.getValue())) {
        it.remove();
        Pending p = dirty.get(e.getKey());
        parkedChanges -= count(p);
        if (blocked.remove(e.getKey()) && p != null && !processing.containsKey(e.getKey())) {
          (pickFresh && isFresh(p, e.getValue(), cutoff) ? freshOnes : rest).add(new Released(e.getKey(), p.latest()));
        }
      }
    }
  }

  /**
   * Unparks the fresh keys of clusters {@code led} accepts, found among the keys held since
   * {@code cutoff}: a key's newest change is never later than its last entry in {@code recent}
   * (its add, or its parking after it), so none is missed; under the lock.
   */
  private void unparkRecentFresh(java.util.function.Predicate<String> led, long cutoff, List<Released> freshOnes) {
    for (String key : recent.since(cutoff)) {
      String cluster = parked.get(key);
      if (cluster == null || !led.test(cluster)) {
        continue;
      }
      Pending p = dirty.get(key);
      if (p != null && isFresh(p, cluster, cutoff) && blocked.contains(key) && !processing.containsKey(key)) {
        parked.remove(key);
        blocked.remove(key);
        parkedChanges -= count(p);
        freshOnes.add(new Released(key, p.latest()));
      }
    }
  }

  /** Changes held for another replica (parked): pods when coalescing. */
  public int parkedChanges() {
    lock.lock();
    try {
      return parkedChanges;
    } finally {
      lock.unlock();
    }
  }

  /** How {@code pendingChanges} counts {@code p}: one per key when coalescing; under the lock. */
  private int count(Pending p) {
    return p == null ? 0 : coalesce ? 1 : p.changes().size();
  }

  /** How many keys are parked. */
  public int parkedCount() {
    lock.lock();
    try {
      return parked.size();
    } finally {
      lock.unlock();
    }
  }

  private int removeIf(java.util.function.Predicate<Map.Entry<String, Pending>> which) {
    int removed = 0;
    var it = dirty.entrySet().iterator();
    while (it.hasNext()) {
      var e = it.next();
      if (!processing.containsKey(e.getKey()) && which.test(e)) {
        Pending p = e.getValue();
        pendingChanges -= coalesce ? 1 : p.changes().size();
        removed += p.changes().size();
        blocked.remove(e.getKey());
        if (parked.remove(e.getKey()) != null) {
          parkedChanges -= count(p);
        }
        held.remove(e.getKey());
        fresh.remove(e.getKey());
        it.remove();
      }
    }
    if (removed > 0) {
      ready.removeIf(k -> !dirty.containsKey(k));
      signalIfIdle();
    }
    return removed;
  }

  /** Refuses new changes from now on; workers finish what is queued. */
  public void shutDown() {
    lock.lock();
    try {
      shuttingDown = true;
      notEmpty.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Waits until nothing is pending or in flight, up to {@code timeout}; true if that happened. */
  public boolean awaitIdle(long timeout, TimeUnit unit) throws InterruptedException {
    long waitNanos = unit.toNanos(timeout);
    lock.lock();
    try {
      while (!dirty.isEmpty() || !processing.isEmpty()) {
        if (waitNanos <= 0) {
          return false;
        }
        waitNanos = idle.awaitNanos(waitNanos);
      }
      return true;
    } finally {
      lock.unlock();
    }
  }

  /** Changes waiting, parked ones included (including those waiting for a key in flight or in backoff): pods when coalescing. */
  public int depth() {
    lock.lock();
    try {
      return dirty.size();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Changes waiting for this replica to apply, as the capacity counts them (pods when coalescing,
   * else changes): parked ones not included.
   */
  public int waiting() {
    lock.lock();
    try {
      return coalesce ? dirty.size() - parked.size() : pendingChanges - parkedChanges;
    } finally {
      lock.unlock();
    }
  }

  /** True while a change of {@code key} waits (held ones included) or is in flight. */
  public boolean unfinished(String key) {
    lock.lock();
    try {
      return dirty.containsKey(key) || processing.containsKey(key);
    } finally {
      lock.unlock();
    }
  }

  /**
   * True while a change bringing the pod to {@code state} (equal in every field, its resourceVersion
   * included) waits here for its turn or is being applied: not an older state, not a change waiting out
   * a retry's backoff (it failed), not one held for another replica. What a reconcile pass may leave to
   * the change ({@code SinkContext.changePending}).
   */
  public boolean onItsWay(io.k8ssync.sink.PodState state) {
    String key = state.key();
    lock.lock();
    try {
      Pending p = dirty.get(key);
      if (p != null) {
        return !blocked.contains(key) && state.equals(p.changes().get(p.changes().size() - 1).after());
      }
      Item item = processing.get(key);
      return item != null && state.equals(item.changes().get(item.changes().size() - 1).after());
    } finally {
      lock.unlock();
    }
  }

  /** Pods with changes waiting or in flight. */
  public int unfinished() {
    lock.lock();
    try {
      int waiting = 0;
      for (String key : dirty.keySet()) {
        if (!processing.containsKey(key)) {
          waiting++; // a held list's rest waits while its first change is in flight: one pod
        }
      }
      return waiting + processing.size();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Seconds since the oldest change not yet applied was queued; 0 when there is none. Parked
   * changes do not count: applying them is another replica's job.
   */
  public double oldestPendingSeconds() {
    lock.lock();
    try {
      long oldest = Long.MAX_VALUE;
      for (Map.Entry<String, Pending> e : dirty.entrySet()) {
        if (!parked.containsKey(e.getKey())) {
          oldest = Math.min(oldest, e.getValue().since());
        }
      }
      for (Item item : processing.values()) {
        oldest = Math.min(oldest, item.since());
      }
      return oldest == Long.MAX_VALUE ? 0 : (nanoTime.getAsLong() - oldest) / 1e9;
    } finally {
      lock.unlock();
    }
  }

  private void signalIfIdle() {
    if (dirty.isEmpty() && processing.isEmpty()) {
      idle.signalAll();
    }
  }
}
