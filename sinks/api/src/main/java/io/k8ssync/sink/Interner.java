package io.k8ssync.sink;

import java.util.concurrent.ConcurrentHashMap;

/**
 * One shared instance per distinct value, for values that repeat across many pods (an upsync entry, a
 * registry value: a handful of distinct ones for 100,000 servers, issue 19). Bounded: once {@code limit}
 * distinct values are kept, any other is returned as given, so odd values cannot grow the table.
 * Thread-safe; values must be immutable.
 */
public final class Interner<T> {

  private final ConcurrentHashMap<T, T> kept = new ConcurrentHashMap<>();
  private final int limit;

  public Interner(int limit) {
    this.limit = limit;
  }

  /** The instance kept for {@code value}'s equals, or {@code value} itself (null stays null). */
  public T intern(T value) {
    if (value == null) {
      return null;
    }
    T k = kept.get(value);
    if (k != null) {
      return k;
    }
    if (kept.size() >= limit) {
      return value;
    }
    k = kept.putIfAbsent(value, value);
    return k == null ? value : k;
  }
}
