package io.k8ssync.sink.kafka;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A growable buffer of UTF-8 JSON text: literals, escaped strings, integers. The producer sends these
 * bytes as they are, so an event is encoded once, here, instead of built as a String and encoded again
 * by a serializer (JFR: the String path copied each event three times).
 *
 * <p>The bytes are exactly {@code Template.jsonEscape(value).getBytes(UTF_8)}: quote, backslash,
 * control characters, {@code < > &} and U+2028/2029 escaped, any other character in UTF-8, and a
 * surrogate without its partner as {@code ?}, as the JDK's encoder writes it. Not thread-safe.
 */
final class JsonBytes {

  /** ASCII characters copied as they are; the rest of ASCII is escaped. */
  private static final boolean[] PLAIN = new boolean[128];
  private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

  static {
    for (char c = 0x20; c < 128; c++) {
      PLAIN[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&';
    }
  }

  private byte[] buf;
  private int pos;

  JsonBytes(int capacity) {
    buf = new byte[capacity];
  }

  /** A literal's bytes; for constant ASCII text that needs no escape. */
  static byte[] ascii(String literal) {
    return literal.getBytes(StandardCharsets.US_ASCII);
  }

  void reset() {
    pos = 0;
  }

  int position() {
    return pos;
  }

  byte[] toByteArray() {
    return Arrays.copyOf(buf, pos);
  }

  void raw(byte[] literal) {
    ensure(literal.length);
    System.arraycopy(literal, 0, buf, pos, literal.length);
    pos += literal.length;
  }

  void raw(char asciiChar) {
    ensure(1);
    buf[pos++] = (byte) asciiChar;
  }

  /** Appends again what was written at {@code [from, to)}: a value already rendered in this buffer. */
  void again(int from, int to) {
    int n = to - from;
    ensure(n);
    System.arraycopy(buf, from, buf, pos, n);
    pos += n;
  }

  void number(int value) {
    if (value == Integer.MIN_VALUE) {
      raw(ascii(Integer.toString(value)));
      return;
    }
    ensure(11);
    int v = value;
    if (v < 0) {
      buf[pos++] = '-';
      v = -v;
    }
    int digits = 1;
    for (int t = v; t >= 10; t /= 10) {
      digits++;
    }
    int end = pos + digits;
    for (int i = end - 1; i >= pos; i--) {
      buf[i] = (byte) ('0' + v % 10);
      v /= 10;
    }
    pos = end;
  }

  /** The JSON-escaped UTF-8 of {@code value}, without quotes. */
  void escaped(String value) {
    int n = value.length();
    ensure(n);
    byte[] b = buf;
    int p = pos;
    int i = 0;
    for (; i < n; i++) {
      char c = value.charAt(i);
      if (c >= 128 || !PLAIN[c]) {
        break;
      }
      b[p++] = (byte) c;
    }
    pos = p;
    if (i < n) {
      escapedFrom(value, i);
    }
  }

  /** The slow path: from the first character that is not plain ASCII on. */
  private void escapedFrom(String value, int start) {
    int n = value.length();
    ensure((n - start) * 6); // the longest form of one char is \\uXXXX
    for (int i = start; i < n; i++) {
      char c = value.charAt(i);
      if (c < 128) {
        if (PLAIN[c]) {
          buf[pos++] = (byte) c;
          continue;
        }
        switch (c) {
          case '"' -> two('\\', '"');
          case '\\' -> two('\\', '\\');
          case '\n' -> two('\\', 'n');
          case '\r' -> two('\\', 'r');
          case '\t' -> two('\\', 't');
          default -> unicodeEscape(c); // < > & and the other control characters
        }
      } else if (c < 0x800) {
        buf[pos++] = (byte) (0xC0 | c >> 6);
        buf[pos++] = (byte) (0x80 | c & 0x3F);
      } else if (c == 0x2028 || c == 0x2029) {
        unicodeEscape(c);
      } else if (Character.isSurrogate(c)) {
        if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(value.charAt(i + 1))) {
          int cp = Character.toCodePoint(c, value.charAt(++i));
          buf[pos++] = (byte) (0xF0 | cp >> 18);
          buf[pos++] = (byte) (0x80 | cp >> 12 & 0x3F);
          buf[pos++] = (byte) (0x80 | cp >> 6 & 0x3F);
          buf[pos++] = (byte) (0x80 | cp & 0x3F);
        } else {
          buf[pos++] = '?'; // what String.getBytes(UTF_8) writes for a lone surrogate
        }
      } else {
        buf[pos++] = (byte) (0xE0 | c >> 12);
        buf[pos++] = (byte) (0x80 | c >> 6 & 0x3F);
        buf[pos++] = (byte) (0x80 | c & 0x3F);
      }
    }
  }

  private void two(char a, char b) {
    buf[pos++] = (byte) a;
    buf[pos++] = (byte) b;
  }

  private void unicodeEscape(char c) {
    buf[pos++] = '\\';
    buf[pos++] = 'u';
    buf[pos++] = HEX[c >> 12 & 15];
    buf[pos++] = HEX[c >> 8 & 15];
    buf[pos++] = HEX[c >> 4 & 15];
    buf[pos++] = HEX[c & 15];
  }

  private void ensure(int more) {
    if (pos + more > buf.length) {
      buf = Arrays.copyOf(buf, Math.max(buf.length * 2, pos + more));
    }
  }
}
