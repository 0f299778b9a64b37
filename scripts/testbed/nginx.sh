#!/usr/bin/env bash
# Installs nginx from Debian's packages when absent. Tests start their own nginx processes (own
# prefix, config, pid file and loopback ports, as the current user), never the system service:
# the package's own service is stopped and disabled if the install started it.
set -euo pipefail
. "$(dirname "$0")/common.sh"

if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  log "installing nginx-light (Debian)"
  apt-get update -qq
  # policy-rc.d 101: the package must not start its service on this host (tests start their own).
  policy=/usr/sbin/policy-rc.d
  created=
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; created=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light >/dev/null \
    || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null
  [ -z "$created" ] || rm -f "$policy"
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
"$nginx_bin" -v 2>&1 | sed 's/^/[testbed] /' >&2
log "nginx ready: $nginx_bin (tests start their own instances on 127.0.0.1)"
