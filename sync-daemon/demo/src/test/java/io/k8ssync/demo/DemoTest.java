package io.k8ssync.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.daemon.config.SinkTypes;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The README's run command: the demo churns pods and the daemon follows them. */
class DemoTest {

  @Test
  void demoRunsChurnAndPrintsSummariesWithPodsOnlineAndTheHostileOneRejected() {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(buf, true, StandardCharsets.UTF_8);
    int code = Demo.run(SinkTypes.discover(), Duration.ofSeconds(8), 6, 0, out);
    String text = buf.toString(StandardCharsets.UTF_8);
    assertEquals(0, code, text);
    assertTrue(text.contains("k8s-sync demo: simulated cluster at"), text);
    Matcher m = Pattern.compile("\\[summary t=\\d+s] pods=(\\d+) online=(\\d+) rejected=(\\d+) \\| sink log: applied=(\\d+)")
        .matcher(text);
    String[] last = null;
    while (m.find()) {
      last = new String[] {m.group(1), m.group(2), m.group(3), m.group(4)};
    }
    assertTrue(last != null, "a summary line is printed: " + text);
    assertTrue(Integer.parseInt(last[1]) > 0, "pods went online: " + text);
    assertEquals("1", last[2], "the pod with a hostile service label is rejected");
    assertTrue(Integer.parseInt(last[3]) > Integer.parseInt(last[0]), "the log sink applied the churn");
  }
}
