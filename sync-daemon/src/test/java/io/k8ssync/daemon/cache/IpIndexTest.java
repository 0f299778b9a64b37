package io.k8ssync.daemon.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

class IpIndexTest {

  private final IpIndex index = new IpIndex();

  @Test
  void anIpHeldByTwoPodsListsBothUntilOneLeaves() {
    index.add(0x0A000001L, null, "c/ns/a");
    index.add(0x0A000001L, null, "c/ns/b");
    index.add(0x0A000001L, null, "c/ns/b");
    assertEquals(Set.of("c/ns/a", "c/ns/b"), keys(index.get(0x0A000001L, null)));
    index.remove(0x0A000001L, null, "c/ns/a");
    assertEquals("c/ns/b", index.get(0x0A000001L, null));
    index.remove(0x0A000001L, null, "c/ns/b");
    assertNull(index.get(0x0A000001L, null));
    assertEquals(0, index.size());
  }

  @Test
  void addressesThatAreNotIpv4AreIndexedByText() {
    index.add(-1, "fd00::1", "c/ns/a");
    index.add(-1, "fd00::1", "c/ns/b");
    index.add(-1, null, "c/ns/c");
    assertEquals(Set.of("c/ns/a", "c/ns/b"), keys(index.get(-1, "fd00::1")));
    index.remove(-1, "fd00::1", "c/ns/a");
    index.remove(-1, "fd00::1", "c/ns/b");
    assertNull(index.get(-1, "fd00::1"));
    assertNull(index.get(-1, null));
    assertEquals(0, index.size());
  }

  /** Against a plain map, through growth, shrinking and removals in the middle of probe runs. */
  @Test
  void agreesWithAMapThroughRandomAddsAndRemoves() {
    Random random = new Random(19);
    Map<Long, Set<String>> model = new HashMap<>();
    for (int round = 0; round < 200_000; round++) {
      // Few distinct values (many collide in the table), and the extremes of the range.
      long ip = switch (random.nextInt(10)) {
        case 0 -> 0L;
        case 1 -> 0xFFFF_FFFFL;
        default -> 0x0A00_0000L + random.nextInt(round < 100_000 ? 5_000 : 50);
      };
      String key = "c/ns/p" + random.nextInt(3);
      if (random.nextInt(3) == 0) {
        index.remove(ip, null, key);
        Set<String> s = model.get(ip);
        if (s != null && s.remove(key) && s.isEmpty()) {
          model.remove(ip);
        }
      } else {
        index.add(ip, null, key);
        model.computeIfAbsent(ip, k -> new TreeSet<>()).add(key);
      }
    }
    assertEquals(model.size(), index.size());
    for (long ip = 0x0A00_0000L; ip < 0x0A00_0000L + 5_000; ip++) {
      assertEquals(model.getOrDefault(ip, Set.of()), keys(index.get(ip, null)), "ip " + ip);
    }
    assertEquals(model.getOrDefault(0L, Set.of()), keys(index.get(0L, null)));
    assertEquals(model.getOrDefault(0xFFFF_FFFFL, Set.of()), keys(index.get(0xFFFF_FFFFL, null)));
  }

  private static Set<String> keys(Object value) {
    if (value == null) {
      return Set.of();
    }
    return value instanceof String one ? Set.of(one) : new TreeSet<>(Arrays.asList((String[]) value));
  }
}
