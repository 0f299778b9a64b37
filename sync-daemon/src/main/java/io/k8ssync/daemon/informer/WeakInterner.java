package io.k8ssync.daemon.informer;

import java.lang.ref.WeakReference;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * One shared copy of each value while anything still holds it, like Guava's weak interner: an
 * entry goes once no cached pod refers to its value, so values cycled through by a pod's owner
 * (a service annotation set to a new value on every edit) cannot grow it without bound. Values
 * must be immutable (strings, immutable maps). Thread-safe: one lock, held only for a map lookup.
 */
final class WeakInterner<T> {

  /** Key and value are the same object; the value is weak too, or the entry would keep its own key alive. */
  private final Map<T, WeakReference<T>> strings = new WeakHashMap<>();

  synchronized T intern(T s) {
    if (s == null) {
      return null;
    }
    WeakReference<T> ref = strings.get(s);
    T prior = ref == null ? null : ref.get();
    if (prior != null) {
      return prior;
    }
    strings.put(s, new WeakReference<>(s));
    return s;
  }

  /** Values held now; those no longer referenced elsewhere leave after a garbage collection. */
  synchronized int size() {
    return strings.size();
  }
}
