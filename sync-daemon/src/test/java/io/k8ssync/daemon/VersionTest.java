package io.k8ssync.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** {@code k8s-sync --version}: the version and the git commit the build came from. */
class VersionTest {

  @Test
  void versionPrintsTheProjectVersionAndTheCommitOfThisCheckout() throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int code = Main.run(new String[] {"--version"}, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
    String line = out.toString(StandardCharsets.UTF_8);
    assertEquals(0, code, line);
    Matcher m = Pattern.compile("k8s-sync (\\S+) \\(commit ([0-9a-f]{12})( with local changes)?, committed \\d{4}-\\d\\d-\\d\\dT[0-9:]{8}Z\\)\n").matcher(line);
    assertTrue(m.matches(), line);
    assertEquals(System.getProperty("k8ssync.version"), m.group(1));
    assertEquals(gitHead(), m.group(2), "the commit checked out when the build ran");
  }

  private static String gitHead() throws Exception {
    Process p = new ProcessBuilder("git", "rev-parse", "--short=12", "HEAD").redirectErrorStream(true).start();
    String head = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), head);
    return head;
  }
}
