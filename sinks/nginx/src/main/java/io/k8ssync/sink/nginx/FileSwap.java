package io.k8ssync.sink.nginx;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Replaces files so that a reader sees the old text or the new one, never half of either: the new
 * text goes to a temp file in the same directory, is fsynced, and is renamed over the live file,
 * then the directory is fsynced. The previous text is kept as a backup beside it
 * ({@code .<name>.bak}), and {@link #restore} puts it back the same way. Temp and backup names
 * start with a dot, so an {@code include dir/*.conf} never reads them.
 */
final class FileSwap {

  /** A file about to change: where it lives and what it held before (null: it did not exist). */
  record Change(Path live, String before) {}

  private final Path directory;

  FileSwap(Path directory) {
    this.directory = directory;
  }

  /** Writes each file's new text in place, keeping backups; returns what {@link #restore} needs. */
  List<Change> install(Map<Path, String> files, Map<Path, String> before) throws IOException {
    List<Change> changes = new ArrayList<>();
    for (Map.Entry<Path, String> f : files.entrySet()) {
      Path live = f.getKey();
      String old = before.get(live);
      if (old != null) {
        writeAtomically(backupOf(live), old);
      }
      changes.add(new Change(live, old));
    }
    for (Map.Entry<Path, String> f : files.entrySet()) {
      writeAtomically(f.getKey(), f.getValue());
    }
    return changes;
  }

  /** Puts back what the files held before {@link #install}; a file that did not exist is removed. */
  void restore(List<Change> changes) throws IOException {
    for (Change c : changes) {
      if (c.before() == null) {
        Files.deleteIfExists(c.live());
      } else {
        writeAtomically(c.live(), c.before());
      }
    }
    fsyncDirectory();
  }

  static Path backupOf(Path live) {
    return live.resolveSibling("." + live.getFileName() + ".bak");
  }

  private static Path tempOf(Path live) {
    return live.resolveSibling("." + live.getFileName() + ".k8s-sync.tmp");
  }

  /** Removes temp files a crash may have left (never a live file or a backup). */
  void removeLeftovers() throws IOException {
    try (var s = Files.list(directory)) {
      for (Path p : s.filter(p -> p.getFileName().toString().endsWith(".k8s-sync.tmp")).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  void writeAtomically(Path live, String text) throws IOException {
    Path tmp = tempOf(live);
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE)) {
      ByteBuffer b = ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
      while (b.hasRemaining()) {
        ch.write(b);
      }
      ch.force(true);
    }
    Files.move(tmp, live, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    fsyncDirectory();
  }

  /** The rename is durable only once the directory is. */
  private void fsyncDirectory() throws IOException {
    try (FileChannel ch = FileChannel.open(directory, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException e) {
      // Some file systems refuse to open a directory for fsync; the rename itself is still atomic there.
    }
  }
}
