package io.k8ssync.daemon.cache;

import java.util.HashMap;
import java.util.Map;

/**
 * Pod keys by IP. A dotted IPv4 address (every pod of an IPv4 cluster) sits in an open-addressing
 * table of ints, so an indexed pod costs two array slots and no object of its own; anything else
 * (IPv6) in a map by its string. A value is the pod's key, or an array of keys while an IP is held
 * by more than one pod (reused before the old pod is gone); arrays are never changed once stored,
 * so a value read under the lock can be used after it. Thread-safe: one lock, held for a probe.
 */
final class IpIndex {

  private static final int MIN_CAPACITY = 16;

  private int[] ips = new int[MIN_CAPACITY];
  /** Parallel to {@link #ips}: a key, an array of keys, or null for a free slot. */
  private Object[] keys = new Object[MIN_CAPACITY];
  private int shift = 32 - Integer.numberOfTrailingZeros(MIN_CAPACITY);
  private int used;
  private final Map<String, Object> others = new HashMap<>();

  /** @param ipv4 the IP as from {@code PodState.ipv4Bits}, or -1; @param text the IP otherwise (null: none) */
  synchronized void add(long ipv4, String text, String key) {
    if (ipv4 >= 0) {
      int ip = (int) ipv4;
      int i = slot(ip);
      if (keys[i] == null) {
        ips[i] = ip;
        keys[i] = key;
        if (++used > keys.length * 3 / 4) {
          resize(keys.length * 2);
        }
      } else {
        keys[i] = with(keys[i], key);
      }
    } else if (text != null) {
      others.merge(text, key, (old, k) -> with(old, (String) k));
    }
  }

  synchronized void remove(long ipv4, String text, String key) {
    if (ipv4 >= 0) {
      int i = slot((int) ipv4);
      if (keys[i] != null) {
        Object rest = without(keys[i], key);
        if (rest == null) {
          free(i);
        } else {
          keys[i] = rest;
        }
      }
    } else if (text != null) {
      others.computeIfPresent(text, (t, old) -> without(old, key));
    }
  }

  /** The keys of the pods holding {@code ipv4} (or {@code text}): null, a String, or a String[] not to be changed. */
  synchronized Object get(long ipv4, String text) {
    if (ipv4 >= 0) {
      return keys[slot((int) ipv4)];
    }
    return text == null ? null : others.get(text);
  }

  /** Indexed IPs, for tests. */
  synchronized int size() {
    return used + others.size();
  }

  /** The slot holding {@code ip}, or the free slot where it would go. */
  private int slot(int ip) {
    int mask = keys.length - 1;
    int i = home(ip);
    while (keys[i] != null && ips[i] != ip) {
      i = (i + 1) & mask;
    }
    return i;
  }

  private int home(int ip) {
    return (ip * 0x9E3779B9) >>> shift;
  }

  /** Frees slot {@code i}, moving later entries of the same probe run back so lookups still find them. */
  private void free(int i) {
    int mask = keys.length - 1;
    int j = i;
    while (true) {
      j = (j + 1) & mask;
      if (keys[j] == null) {
        break;
      }
      int home = home(ips[j]);
      boolean staysPut = i < j ? (i < home && home <= j) : (i < home || home <= j);
      if (!staysPut) {
        ips[i] = ips[j];
        keys[i] = keys[j];
        i = j;
      }
    }
    keys[i] = null;
    used--;
    if (keys.length > MIN_CAPACITY && used < keys.length / 8) {
      resize(keys.length / 2);
    }
  }

  private void resize(int capacity) {
    int[] oldIps = ips;
    Object[] oldKeys = keys;
    ips = new int[capacity];
    keys = new Object[capacity];
    shift = 32 - Integer.numberOfTrailingZeros(capacity);
    for (int i = 0; i < oldKeys.length; i++) {
      if (oldKeys[i] != null) {
        int s = slot(oldIps[i]);
        ips[s] = oldIps[i];
        keys[s] = oldKeys[i];
      }
    }
  }

  private static Object with(Object value, String key) {
    if (value instanceof String one) {
      return one.equals(key) ? one : new String[] {one, key};
    }
    String[] many = (String[]) value;
    for (String k : many) {
      if (k.equals(key)) {
        return many;
      }
    }
    String[] more = java.util.Arrays.copyOf(many, many.length + 1);
    more[many.length] = key;
    return more;
  }

  /** The value without {@code key}; null when nothing is left. */
  private static Object without(Object value, String key) {
    if (value instanceof String one) {
      return one.equals(key) ? null : one;
    }
    String[] many = (String[]) value;
    int at = -1;
    for (int i = 0; i < many.length; i++) {
      if (many[i].equals(key)) {
        at = i;
      }
    }
    if (at < 0) {
      return many;
    }
    if (many.length == 2) {
      return many[1 - at];
    }
    String[] fewer = new String[many.length - 1];
    System.arraycopy(many, 0, fewer, 0, at);
    System.arraycopy(many, at + 1, fewer, at, many.length - at - 1);
    return fewer;
  }
}
