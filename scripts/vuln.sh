#!/usr/bin/env bash
# govulncheck (pinned in tools.mod) over every package, against a
# vulnerability database on disk.
#
# govulncheck's default database, vuln.go.dev, cannot be reached from our
# machines nor from CI: only the Go module proxy can. The proxy serves the
# module golang.org/x/vulndb, which carries the database's OSV entries
# (data/osv), so the first run fetches the pinned snapshot and indexes it
# with vulndb's own indexdb into bin/vulndb-VERSION (40 MB; about 10 s once
# downloaded). Later runs read it from there and need no network.
#
#   scripts/vuln.sh                               # the pinned snapshot
#   VULN_DB=https://vuln.go.dev scripts/vuln.sh   # the live database, where reachable
#
# To refresh, set VULNDB_VERSION below to a newer pseudo-version of
# golang.org/x/vulndb. Exits 3, as govulncheck does, when the code calls a
# vulnerable function; prints SKIPPED and exits 0 when there is no database
# and none can be built (no module proxy), since a missing network is not a
# finding.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018

db=${VULN_DB:-}
if [ -z "$db" ]; then
  dir=$PWD/bin/vulndb-$VULNDB_VERSION
  if [ ! -f "$dir/index/db.json" ]; then
    # Outside the module, so that nothing is written to go.mod or go.sum.
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    echo "vuln: building the vulnerability database from golang.org/x/vulndb@$VULNDB_VERSION"
    if ! src=$("$GO" -C "$tmp" mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" |
      sed -n 's/^\t"Dir": "\(.*\)",$/\1/p') || [ ! -d "$src/data/osv" ] ||
      ! "$GO" -C "$tmp" run "golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION" \
        -vulns "$src/data/osv" -out "$tmp/db"; then
      echo "vuln: SKIPPED: no vulnerability database: vuln.go.dev is out of reach and" \
        "golang.org/x/vulndb@$VULNDB_VERSION could not be fetched or indexed (is the module proxy reachable?)"
      exit 0
    fi
    mkdir -p bin
    rm -rf "$dir"
    mv "$tmp/db" "$dir"
  fi
  db=file://$dir
fi
exec "$GO" tool -modfile=tools.mod govulncheck -db "$db" ./...
