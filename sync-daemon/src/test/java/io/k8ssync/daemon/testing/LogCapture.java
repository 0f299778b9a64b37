package io.k8ssync.daemon.testing;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.LoggerFactory;

/**
 * Keeps what one class logs while open, at INFO and above whatever LOG_LEVEL says, so a test can
 * assert on a log line. Close it to detach.
 */
public final class LogCapture implements AutoCloseable {

  private final Logger logger;
  private final Level priorLevel;
  private final ListAppender<ILoggingEvent> appender = new ListAppender<>();

  private LogCapture(Class<?> source) {
    logger = (Logger) LoggerFactory.getLogger(source);
    priorLevel = logger.getLevel();
    logger.setLevel(Level.INFO);
    appender.start();
    logger.addAppender(appender);
  }

  public static LogCapture of(Class<?> source) {
    return new LogCapture(source);
  }

  /** The formatted messages logged so far at {@code atLeast} or above, oldest first. */
  public List<String> messages(Level atLeast) {
    List<ILoggingEvent> events;
    // ListAppender appends under its own monitor (AppenderBase.doAppend is synchronized).
    synchronized (appender) {
      events = new ArrayList<>(appender.list);
    }
    return events.stream()
        .filter(e -> e.getLevel().isGreaterOrEqual(atLeast))
        .map(ILoggingEvent::getFormattedMessage)
        .toList();
  }

  public List<String> messages() {
    return messages(Level.TRACE);
  }

  @Override
  public void close() {
    logger.detachAppender(appender);
    appender.stop();
    logger.setLevel(priorLevel);
  }
}
