package io.k8ssync.daemon.config;

import io.k8ssync.sink.config.ConfigDef;
import io.k8ssync.sink.config.ConfigException;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Refuses credentials written into a sink's plain config: user info in a URL
 * ({@code https://user:secret@host}) or in a host list ({@code user:secret@host:9092}). Plain
 * values are echoed by errors, logs and clients; a secret goes in the sink's secret-typed keys,
 * read from {@code ${env:}} or {@code ${file:}}. Checked for every string of every sink type,
 * before the type's own checks, so the message points at the right key.
 */
final class InlineCredentials {

  /** A URL's authority: after {@code scheme://}, up to the path, query or fragment. */
  private static final Pattern AUTHORITY = Pattern.compile("[A-Za-z][A-Za-z0-9+.-]*://([^/?#\\s]*)");
  private static final Pattern BARE = Pattern.compile("(^|[\\s,;])[^\\s,;/@:]+:[^\\s,;/@]*@");

  private InlineCredentials() {}

  /** @param path where the sink's config is, e.g. {@code sinks[0].config} */
  static void check(String path, Object raw, ConfigDef def) throws ConfigException {
    ConfigLoader.forEachString(path, raw, (keyPath, value) -> {
      String expected = null;
      Matcher url = AUTHORITY.matcher(value);
      while (url.find() && expected == null) {
        if (url.group(1).contains("@")) {
          expected = "a URL without user info (credentials in a URL end up in logs)";
        }
      }
      if (expected == null && BARE.matcher(value).find()) {
        expected = "a value without user:password@ (credentials written here end up in logs)";
      }
      if (expected != null) {
        List<String> secrets = new ArrayList<>();
        secretKeys(path, def, secrets);
        throw new ConfigException(keyPath, "found " + ConfigException.show(value) + "; expected " + expected
            + (secrets.isEmpty() ? "; this sink type takes no credentials"
                : ": put the secret in " + String.join(" or ", secrets) + ", as ${env:NAME} or ${file:/path}"));
      }
    });
  }

  private static void secretKeys(String path, ConfigDef def, List<String> out) {
    for (ConfigDef.Key k : def.keys()) {
      if (k.type() == ConfigDef.Type.SECRET) {
        out.add(path + "." + k.name());
      } else if (k.type() == ConfigDef.Type.OBJECT) {
        secretKeys(path + "." + k.name(), k.nested(), out);
      }
    }
  }
}
