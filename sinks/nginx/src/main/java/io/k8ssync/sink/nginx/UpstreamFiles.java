package io.k8ssync.sink.nginx;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The text of the include files and where they go: one {@code <upstream>.conf} per upstream, or one
 * file with every upstream. Each file starts with a line that marks it as this sink's; a file
 * without it is someone else's and is never overwritten. Reads its own files back, so a restarted
 * sink knows the last servers it wrote.
 */
final class UpstreamFiles {

  private static final Pattern UPSTREAM = Pattern.compile("\\s*upstream\\s+(\\S+)\\s*\\{.*");

  private final NginxSinkConfig config;
  private final String marker;

  UpstreamFiles(NginxSinkConfig config) {
    this.config = config;
    this.marker = "# k8s-sync nginx sink \"" + config.sink() + "\": rendered from the ready pods; edits here are overwritten";
  }

  /** True when {@code content} is a file this sink wrote. */
  boolean ours(String content) {
    return content.startsWith(marker + "\n");
  }

  Path fileOf(String upstream) {
    return config.directory().resolve(config.singleFile() ? config.fileName() : upstream + ".conf");
  }

  /** Every file's text, by path, in a stable order (equal input, equal text). */
  Map<Path, String> render(Collection<UpstreamBlock> blocks) {
    Map<Path, StringBuilder> files = new TreeMap<>();
    List<UpstreamBlock> sorted = new ArrayList<>(blocks);
    sorted.sort(java.util.Comparator.comparing(UpstreamBlock::name));
    if (config.singleFile()) {
      files.put(fileOf(""), header());
    }
    for (UpstreamBlock b : sorted) {
      StringBuilder f = files.computeIfAbsent(fileOf(b.name()), p -> header());
      f.append("upstream ").append(b.name()).append(" {\n");
      if (!config.zoneSize().isEmpty()) {
        f.append("    zone ").append(b.name()).append(' ').append(zoneKib(config.zoneSize(), b.servers().size())).append("k;\n");
      }
      for (String d : config.directives()) {
        f.append("    ").append(d).append(";\n");
      }
      if (b.fallback()) {
        f.append("    # no pod is ready: the fallback server takes the traffic\n");
      } else if (b.noLiveServer()) {
        f.append("    # no pod is ready: the last servers stay, written down (an upstream may not be empty)\n");
      }
      for (ServerLine s : b.servers()) {
        f.append("    ").append(s.render()).append('\n');
      }
      f.append("}\n");
    }
    Map<Path, String> out = new LinkedHashMap<>();
    files.forEach((p, b) -> out.put(p, b.toString()));
    return out;
  }

  /**
   * The zone's size in KiB: at least the configured one, and room for the servers (about 1 KiB each
   * with the slab's overhead, measured with nginx 1.22: 64k holds 50, 1m holds 1,000), rounded up
   * to a power of two so it changes rarely. Servers that do not fit their zone are an [emerg].
   */
  static long zoneKib(String configured, int servers) {
    char unit = Character.toLowerCase(configured.charAt(configured.length() - 1));
    long n = Long.parseLong(Character.isDigit(unit) ? configured : configured.substring(0, configured.length() - 1));
    long kib = unit == 'm' ? n * 1024 : unit == 'k' ? n : Math.max(1, n / 1024);
    long needed = 16 + (servers * 5L + 3) / 4;
    long size = Long.highestOneBit(Math.max(needed - 1, 1)) << 1;
    return Math.max(kib, size);
  }

  private StringBuilder header() {
    StringBuilder b = new StringBuilder(marker).append('\n');
    for (String h : config.header()) {
      b.append(h.startsWith("#") ? h : "# " + h).append('\n');
    }
    return b;
  }

  /** The upstreams this sink wrote before (its files in the directory), by name: what it last told nginx. */
  Map<String, List<ServerLine>> readWritten() throws IOException {
    Map<String, List<ServerLine>> out = new TreeMap<>();
    List<Path> files;
    if (config.singleFile()) {
      files = List.of(fileOf(""));
    } else {
      try (Stream<Path> s = Files.list(config.directory())) {
        files = s.filter(p -> p.getFileName().toString().endsWith(".conf")).sorted().toList();
      }
    }
    for (Path f : files) {
      String text = read(f);
      if (text == null || !ours(text)) {
        continue;
      }
      String current = null;
      for (String line : text.split("\n")) {
        Matcher u = UPSTREAM.matcher(line);
        if (u.matches()) {
          current = u.group(1);
          out.put(current, new ArrayList<>());
        } else if (line.trim().equals("}")) {
          current = null;
        } else if (current != null) {
          ServerLine s = ServerLine.parse(line);
          if (s != null) {
            out.get(current).add(s);
          }
        }
      }
    }
    out.replaceAll((k, v) -> List.copyOf(v));
    return out;
  }

  /** The file's text, or null when there is none. */
  static String read(Path file) throws IOException {
    try {
      return Files.readString(file);
    } catch (java.nio.file.NoSuchFileException e) {
      return null;
    }
  }
}
