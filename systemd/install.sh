#!/bin/sh
# Installs k8s-sync from this release folder where systemd/k8s-sync.service expects it. Run as root.
# Keeps an existing /etc/k8s-sync/k8s-sync.yaml and k8s-sync.env. DESTDIR=/path installs into that
# tree instead (no user created, no systemctl): how the tests check the layout against the unit.
set -eu
cd "$(dirname "$0")"
root="${DESTDIR:-}"
group=k8s-sync
if [ -z "$root" ]; then
  id k8s-sync >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin k8s-sync
else
  group=$(id -gn)
fi
install -D -m 0644 k8s-sync.jar "$root/opt/k8s-sync/k8s-sync.jar"
# The class list the unit builds its class-data-sharing archive from (in /var/cache/k8s-sync, at start), and the
# list for several sinks beside it (to use it, copy it over the first and delete the archive: docs/OPERATIONS.md).
install -m 0644 k8s-sync.classlist k8s-sync-all-sinks.classlist "$root/opt/k8s-sync/"
install -m 0644 OPERATIONS.md README.md INSTALL.md "$root/opt/k8s-sync/"
install -d -m 0750 -g "$group" "$root/etc/k8s-sync"
[ -e "$root/etc/k8s-sync/k8s-sync.yaml" ] || install -m 0640 -g "$group" k8s-sync.yaml "$root/etc/k8s-sync/k8s-sync.yaml"
[ -e "$root/etc/k8s-sync/k8s-sync.env" ] || install -m 0640 -g "$group" k8s-sync.env.example "$root/etc/k8s-sync/k8s-sync.env"
install -D -m 0644 k8s-sync.service "$root/etc/systemd/system/k8s-sync.service"
if [ -z "$root" ]; then
  systemctl daemon-reload
  echo "installed; edit /etc/k8s-sync/k8s-sync.yaml, check it with:"
  echo "  java -jar /opt/k8s-sync/k8s-sync.jar validate --config /etc/k8s-sync/k8s-sync.yaml"
  echo "then: systemctl enable --now k8s-sync"
fi
