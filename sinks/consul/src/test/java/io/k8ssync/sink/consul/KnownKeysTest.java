package io.k8ssync.sink.consul;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** Issue 19: what the Consul registry remembers of 100,000 keys is kept without per-key copies of shared text. */
class KnownKeysTest {

  private static final String UP = "{\"weight\":1,\"max_fails\":2,\"fail_timeout\":10,\"down\":0,\"backup\":0}";

  @Test
  void keysWithTheSameValueShareOneCopyOfIt() {
    KnownKeys known = new KnownKeys();
    known.saw("web", "10.0.0.1:8080", new KnownKeys.Known(1, 7, new String(UP)));
    known.saw("web", "10.0.0.2:8080", new KnownKeys.Known(2, 7, new String(UP)));
    assertSame(known.get("web", "10.0.0.1:8080").value(), known.get("web", "10.0.0.2:8080").value());
    assertEquals(UP, known.get("web", "10.0.0.2:8080").value());
    assertEquals(new KnownKeys.Known(2, 7, UP), known.get("web", "10.0.0.2:8080"));

    // Beyond the shared values (one test: the table is the JVM's), a value is kept as given.
    for (int i = 0; i < KnownKeys.SHARED_VALUES + 10; i++) {
      KnownKeys.shared("{\"weight\":" + i + "}");
    }
    String odd = new String("{\"weight\":" + (KnownKeys.SHARED_VALUES + 100) + "}");
    assertSame(odd, KnownKeys.shared(odd));
    assertNull(KnownKeys.shared(null));
    assertSame(known.get("web", "10.0.0.1:8080").value(), new KnownKeys.Known(3, 7, new String(UP)).value());
  }

  @Test
  void aListingKeepsTheAddressStringsAlreadyHeldAndTakesItsValues() {
    KnownKeys known = new KnownKeys();
    String written = "10.0.0.1:8080";
    known.saw("web", written, new KnownKeys.Known(1, 7, UP));
    known.saw("web", "10.0.0.9:8080", new KnownKeys.Known(3, 7, UP));
    known.replaceAll(Map.of("web", Map.of(new String(written), new KnownKeys.Known(5, 7, "{\"down\":1}"),
        "10.0.0.2:8080", new KnownKeys.Known(6, 7, UP))));
    assertSame(written, known.heldAddress("web", "10.0.0.1:8080"));
    assertEquals(new KnownKeys.Known(5, 7, "{\"down\":1}"), known.get("web", "10.0.0.1:8080"));
    assertEquals(new KnownKeys.Known(6, 7, UP), known.get("web", "10.0.0.2:8080"));
    assertNull(known.get("web", "10.0.0.9:8080")); // gone from the listing: forgotten, as before
    known.replaceUpstream("web", Map.of(new String(written), new KnownKeys.Known(8, 7, UP)));
    assertSame(written, known.heldAddress("web", "10.0.0.1:8080"));
    assertEquals(Map.of("10.0.0.1:8080", new KnownKeys.Known(8, 7, UP)), known.servers("web"));
  }

}
