package io.k8ssync.sink.mysql;

import java.sql.SQLException;
import java.sql.SQLTransientException;
import java.util.Set;

/** Which database errors a retry can fix: the sink keeps the change for those and drops it for the rest. */
final class SqlErrors {

  enum Kind {
    /** 42S02: someone dropped the table; migrating the schema again fixes it. */
    TABLE_MISSING,
    /** Grants revoked or a wrong password; an operator fixes it. */
    ACCESS_DENIED,
    /** Bad data (SQL state classes 22, 23) or bad SQL (42): the same statement fails every time. */
    REJECTED,
    /** Anything else: a connection lost, a timeout, a deadlock. */
    RETRIABLE
  }

  /** MySQL error codes of access denied: to the database (1044), the user (1045), a table or column (1142, 1143), a privilege (1227). */
  private static final Set<Integer> ACCESS_DENIED = Set.of(1044, 1045, 1142, 1143, 1227);

  private SqlErrors() {}

  static Kind classify(SQLException e) {
    String state = e.getSQLState() == null ? "" : e.getSQLState();
    if (state.equals("42S02")) {
      return Kind.TABLE_MISSING;
    }
    if (accessDenied(e)) {
      return Kind.ACCESS_DENIED;
    }
    if (e instanceof SQLTransientException) {
      // The pool's timeout carries the SQL state of the last connect failure, which says nothing of the data.
      return Kind.RETRIABLE;
    }
    if (state.startsWith("22") || state.startsWith("23") || state.startsWith("42")) {
      return Kind.REJECTED;
    }
    return Kind.RETRIABLE;
  }

  /** Also when the pool wraps the driver's error; SQL state class 28 is invalid authorization. */
  private static boolean accessDenied(SQLException e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SQLException s
          && (ACCESS_DENIED.contains(s.getErrorCode()) || s.getSQLState() != null && s.getSQLState().startsWith("28"))) {
        return true;
      }
    }
    return false;
  }
}
