package io.k8ssync.sink.http;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What the sink was told of leadership ({@code Sink.leadershipChanged}): which clusters it leads,
 * and in which term. A {@link Term} is one stretch of leading one cluster; work scheduled under it
 * ({@link FollowUps}) is disowned when it ends. Written on the leader election's thread, read on any.
 */
final class Leadership {

  /** One stretch of leading a cluster; compared by identity, so a term told twice is two stretches. */
  static final class Term {
    final String cluster;
    final long number;
    /** When this replica was told it leads (epoch millis, the sink's clock). */
    final long sinceMillis;

    Term(String cluster, long number, long sinceMillis) {
      this.cluster = cluster;
      this.number = number;
      this.sinceMillis = sinceMillis;
    }

    @Override
    public String toString() {
      return "cluster " + cluster + " term " + number;
    }
  }

  private final Map<String, Term> led = new ConcurrentHashMap<>();
  private final Map<String, Long> lastTerm = new ConcurrentHashMap<>();

  /** This replica leads {@code cluster} from {@code nowMillis}, in {@code term}; the stretch it replaces, if any. */
  Term started(String cluster, long term, long nowMillis) {
    lastTerm.put(cluster, term);
    return led.put(cluster, new Term(cluster, term, nowMillis));
  }

  /** This replica no longer leads {@code cluster}; the stretch that ended, if any. */
  Term stopped(String cluster) {
    return led.remove(cluster);
  }

  /** The current stretch of leading {@code cluster}; null when this replica does not lead it. */
  Term current(String cluster) {
    return led.get(cluster);
  }

  boolean leads(String cluster) {
    return led.containsKey(cluster);
  }

  /** True while {@code term} is the current stretch of its cluster. */
  boolean owns(Term term) {
    return term != null && led.get(term.cluster) == term;
  }

  /**
   * The term of {@code cluster} last told (kept after a stop, for the records of that term); 0 when
   * never told, as without leader election.
   */
  long term(String cluster) {
    return lastTerm.getOrDefault(cluster, 0L);
  }
}
