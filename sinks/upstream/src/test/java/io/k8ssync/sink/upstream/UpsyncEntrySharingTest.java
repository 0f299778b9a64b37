package io.k8ssync.sink.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import org.junit.jupiter.api.Test;

/** Issue 19: a pass over 100,000 servers holds one entry object per distinct value, not one per server. */
class UpsyncEntrySharingTest {

  @Test
  void equalEntriesAreOneInstanceAndEqualToBuiltOnes() {
    UpsyncEntry parsed = UpsyncEntry.parse("{\"weight\":3,\"max_fails\":2,\"fail_timeout\":10,\"down\":0,\"backup\":0}");
    assertSame(parsed, UpsyncEntry.parse("{\"weight\":3,\"max_fails\":2,\"fail_timeout\":10,\"down\":0,\"backup\":0}"));
    assertSame(parsed, UpsyncEntry.of(3, 2, 10, false, false));
    assertEquals(new UpsyncEntry(3, 2, 10, false, false), parsed);
    UpsyncEntry down = parsed.withDown(true);
    assertEquals(new UpsyncEntry(3, 2, 10, true, false), down);
    assertSame(down, UpsyncEntry.of(3, 2, 10, true, false));
    assertEquals("{\"weight\":3,\"max_fails\":2,\"fail_timeout\":10,\"down\":1,\"backup\":0}", down.toJson());

    // Beyond the shared ones (one test: the table is the JVM's), entries are built each time.
    for (int i = 0; i < UpsyncEntry.SHARED + 10; i++) {
      UpsyncEntry.of(1000 + i, 2, 10, false, false);
    }
    UpsyncEntry a = UpsyncEntry.of(999_999, 2, 10, false, false);
    UpsyncEntry b = UpsyncEntry.of(999_999, 2, 10, false, false);
    assertEquals(a, b);
    assertNotSame(a, b);
  }
}
