package io.k8ssync.daemon.config;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The README's config reference is the generated one; regenerate with {@code config-reference}. */
class ConfigReferenceTest {

  static final String START = "<!-- config-reference:start -->\n";
  static final String END = "<!-- config-reference:end -->";

  @Test
  void readmeMatchesTheCode() throws Exception {
    String readme = Files.readString(Path.of("../README.md"));
    int from = readme.indexOf(START) + START.length();
    int to = readme.indexOf(END);
    String expected = ConfigReference.markdown(SinkTypes.discover(ConfigReferenceTest.class.getClassLoader()))
        .replaceAll("(?s)\n### Sink type `(recording|recording-local|routing)`.*?(?=\n### |\\z)", "");
    assertEquals(expected, readme.substring(from, to),
        "README config reference is stale: paste the output of `java -jar k8s-sync.jar config-reference`");
  }
}
