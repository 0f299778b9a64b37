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

if ! mariadb-admin ping --silent 2>/dev/null; then
  log "starting mariadbd"
  install -d -o mysql -g mysql /run/mysqld
  start-stop-daemon --start --oknodo --background --chuid mysql --exec /usr/sbin/mariadbd -- \
    --bind-address=127.0.0.1 --port=3306 --socket=/run/mysqld/mysqld.sock
  for _ in $(seq 1 120); do
    mariadb-admin ping --silent 2>/dev/null && break
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
FLUSH PRIVILEGES;
SQL
log "mariadb ready on 127.0.0.1:3306, database k8s_sync_test"
