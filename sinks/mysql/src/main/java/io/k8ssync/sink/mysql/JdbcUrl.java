package io.k8ssync.sink.mysql;

import io.k8ssync.sink.config.ConfigException;
import io.k8ssync.sink.config.Validator;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code jdbcUrl} key: a MariaDB or MySQL URL that carries no credentials. A URL is written in
 * plain config, echoed by errors and drivers' logs; the password belongs in the secret-typed
 * {@code password} key, read from the environment or a file. Refused: user info before the host
 * ({@code user:secret@host}) and any option whose name holds "password", in any case, whether after
 * {@code ?}, {@code &}, {@code ;} or inside a host's {@code address=(...)}: Connector/J matches option
 * names without regard to case and also takes {@code keyStorePassword}, {@code trustStorePassword} and
 * their aliases. An error shows the URL with every such value replaced by {@code ***}.
 */
final class JdbcUrl {

  private static final Pattern SCHEME = Pattern.compile("jdbc:(mariadb|mysql)://.+");
  /** {@code scheme://userinfo@}: up to the last {@code @} before the path, as a password may hold one. */
  private static final Pattern USER_INFO = Pattern.compile("^([^/]*//)([^/?#]*)@");
  private static final Pattern SECRET_OPTION = Pattern.compile("([?&;(,]\\s*)([^=&;(),?]*password[^=&;(),?]*)(\\s*=)([^&;),]*)",
      Pattern.CASE_INSENSITIVE);

  static final String WHERE_THE_PASSWORD_GOES =
      "the database password in the password key, as ${env:NAME} or ${file:/path}";

  /** The validator of the {@code jdbcUrl} key; its errors show the URL masked. */
  static final Validator VALIDATOR = new Validator() {
    @Override
    public String expected(Object value) {
      return problem(String.valueOf(value));
    }

    @Override
    public String shown(Object value) {
      return ConfigException.show(masked(String.valueOf(value)));
    }
  };

  private JdbcUrl() {}

  /** What was expected of {@code url}, or null when it is acceptable. Never contains a value of the URL. */
  static String problem(String url) {
    Matcher option = SECRET_OPTION.matcher(url);
    if (option.find()) {
      return "a URL without the option " + option.group(2).strip() + "; put " + WHERE_THE_PASSWORD_GOES
          + (option.group(2).strip().toLowerCase(Locale.ROOT).equals("password") ? "" : " (TLS: trust the server with serverSslCert)");
    }
    if (USER_INFO.matcher(url).find()) {
      return "a URL without user or password before the host; put the user in the username key and " + WHERE_THE_PASSWORD_GOES;
    }
    if (!SCHEME.matcher(url).matches()) {
      return "a jdbc:mariadb:// or jdbc:mysql:// URL";
    }
    return null;
  }

  /** {@code url} with its user info and the values of its password options replaced by {@code ***}. */
  static String masked(String url) {
    String out = USER_INFO.matcher(url).replaceFirst("$1***@");
    return SECRET_OPTION.matcher(out).replaceAll("$1$2$3***");
  }
}
