#!/usr/bin/env bash
# Builds consul (the last MPL-licensed line, 1.16.x) from its Go module into $K8S_SYNC_CACHE/bin/consul.
# Its root go.mod replaces the nested modules with local folders, which a dependency cannot use, so a
# wrapper module pins the tagged versions that release requires and copies its exclude lines.
set -euo pipefail
. "$(dirname "$0")/common.sh"

bin="$K8S_SYNC_CACHE/bin/consul"
if [ -x "$bin" ] && "$bin" version 2>/dev/null | grep -q "v$CONSUL_VERSION"; then
  log "consul $CONSUL_VERSION already built: $bin"
  exit 0
fi
mkdir -p "$K8S_SYNC_CACHE/bin"
# The checksum database does not list every nested consul module (envoyextensions); the module proxy serves them.
export GONOSUMDB="github.com/hashicorp/consul/envoyextensions,github.com/hashicorp/consul/troubleshoot"
export GOPROXY="${GOPROXY:-https://proxy.golang.org}"

w="$K8S_SYNC_CACHE/src/consul-$CONSUL_VERSION"
mkdir -p "$w"
log "building consul $CONSUL_VERSION"
go mod download -json "github.com/hashicorp/consul@v$CONSUL_VERSION" >/dev/null
upstream="$(go env GOMODCACHE)/github.com/hashicorp/consul@v$CONSUL_VERSION/go.mod"
{
  printf 'module k8ssync.local/consul-build\n\ngo 1.20\n\nrequire (\n\tgithub.com/hashicorp/consul v%s\n' "$CONSUL_VERSION"
  # The nested modules at the versions the release's go.mod requires.
  grep -E '^\s+github.com/hashicorp/consul/(api|sdk|proto-public|envoyextensions|troubleshoot) v' "$upstream"
  printf ')\n\n'
  # Copy the exclude block verbatim.
  sed -n '/^exclude (/,/^)/p' "$upstream"
} > "$w/go.mod"
# consul's own main with only the commands the tests use (agent, version): its full command registry
# imports troubleshoot/ports, which no tagged troubleshoot module of the 1.16 line contains.
cat > "$w/main.go" <<'GO'
package main

import (
	"fmt"
	"io"
	"log"
	"os"

	mcli "github.com/mitchellh/cli"

	"github.com/hashicorp/consul/command/agent"
	"github.com/hashicorp/consul/command/cli"
	"github.com/hashicorp/consul/command/version"
)

func main() {
	log.SetOutput(io.Discard)
	ui := &cli.BasicUI{BasicUi: mcli.BasicUi{Writer: os.Stdout, ErrorWriter: os.Stderr}}
	c := &mcli.CLI{
		Args: os.Args[1:],
		Commands: map[string]mcli.CommandFactory{
			"agent":   func() (mcli.Command, error) { return agent.New(ui), nil },
			"version": func() (mcli.Command, error) { return version.New(ui), nil },
		},
		Name:        "consul",
		HelpWriter:  os.Stdout,
		ErrorWriter: os.Stderr,
	}
	code, err := c.Run()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(code)
}
GO
rm -f "$w/tools.go"
(cd "$w" && go mod tidy >/dev/null && go build -trimpath -ldflags=-checklinkname=0 -o "$bin.tmp" .)
mv "$bin.tmp" "$bin"
log "ready: $("$bin" version | head -1)"
