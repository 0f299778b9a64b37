#!/usr/bin/env bash
# Installs MariaDB from Debian's packages when absent, starts it without systemd, and creates the
# test database and user (test-only credentials, loopback only).
set -euo pipefail
. "$(dirname "$0")/common.sh"

if ! command -v mariadbd >/dev/null && [ ! -x /usr/sbin/mariadbd ]; then
  log "installing mariadb-server (Debian)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >/dev/null
fi

# A private CA and a server certificate, so tests can check TLS with verification (test-only keys,
# kept where the mysql user can read them).
tls=/etc/mysql/k8s-sync-test-tls
if [ ! -f "$tls/server.pem" ]; then
  log "creating the test CA and server certificate in $tls"
  install -d -m 0755 "$tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=k8s-sync-test-ca \
    -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$tls/san.ext"
  openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial -days 3650 \
    -extfile "$tls/san.ext" -out "$tls/server.pem" 2>/dev/null
  chown mysql:mysql "$tls/server.key" && chmod 0600 "$tls/server.key" && chmod 0644 "$tls/ca.pem" "$tls/server.pem"
fi

# A server started earlier without TLS is restarted with it.
if mariadb-admin ping --silent >/dev/null 2>&1 \
   && ! mariadb -uroot -N -e "SHOW VARIABLES LIKE 'have_ssl'" 2>/dev/null | grep -q YES; then
  log "restarting mariadbd with TLS"
  mariadb-admin -uroot shutdown
  for _ in $(seq 1 60); do mariadb-admin ping --silent >/dev/null 2>&1 || break; sleep 0.5; done
fi

if ! mariadb-admin ping --silent >/dev/null 2>&1; then
  log "starting mariadbd"
  install -d -o mysql -g mysql /run/mysqld
  start-stop-daemon --start --oknodo --background --chuid mysql --exec /usr/sbin/mariadbd -- \
    --bind-address=127.0.0.1 --port=3306 --socket=/run/mysqld/mysqld.sock \
    --ssl-ca="$tls/ca.pem" --ssl-cert="$tls/server.pem" --ssl-key="$tls/server.key"
  for _ in $(seq 1 120); do
    mariadb-admin ping --silent >/dev/null 2>&1 && break
    sleep 0.5
  done
  mariadb-admin ping --silent
fi

mariadb -uroot <<'SQL'
CREATE DATABASE IF NOT EXISTS k8s_sync_test;
CREATE USER IF NOT EXISTS 'k8s_sync'@'127.0.0.1' IDENTIFIED BY 'k8s_sync_test';
CREATE USER IF NOT EXISTS 'k8s_sync'@'localhost' IDENTIFIED BY 'k8s_sync_test';
GRANT ALL PRIVILEGES ON k8s_sync_test.* TO 'k8s_sync'@'127.0.0.1';
GRANT ALL PRIVILEGES ON k8s_sync_test.* TO 'k8s_sync'@'localhost';
CREATE USER IF NOT EXISTS 'k8s_sync_tls'@'127.0.0.1' IDENTIFIED BY 'k8s_sync_test' REQUIRE SSL;
GRANT ALL PRIVILEGES ON k8s_sync_test.* TO 'k8s_sync_tls'@'127.0.0.1';
FLUSH PRIVILEGES;
SQL
log "mariadb ready on 127.0.0.1:3306, database k8s_sync_test"
