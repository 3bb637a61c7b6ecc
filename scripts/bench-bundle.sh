#!/usr/bin/env bash
# Gathers every binary scripts/bench-cores.sh runs, and the shared
# libraries they load beyond glibc's own, into one directory, so the
# benchmark runs on a bare machine with no network (the project's 16-core
# device machine gets the repository tree plus up to 64 MiB of ignored
# paths it is told to carry):
#
#   make bench-bundle                 # or scripts/bench-bundle.sh [DIR]
#   BIN_DIR=bench-bundle scripts/bench-cores.sh    # there, carrying bench-bundle
#
# In DIR: relcache (bin/relcache, stripped of its symbol table and DWARF:
# 20 instead of 30 MB; the code is the same bytes), redis-server,
# redis-cli, redis-benchmark, nutcracker, valkey-server, predixy and
# memtier_benchmark. A binary that loads libraries beyond glibc's (libc,
# libm, libpthread, libdl, librt, the loader) is DIR/libexec/NAME, run by a
# DIR/NAME that points LD_LIBRARY_PATH at DIR/lib, where those libraries
# are copied (`ldd`); LD_LIBRARY_PATH stays unset for everything else, so
# the machine's own tools keep their own libraries. The machine needs
# glibc as new as this one's (ldd --version: MANIFEST says). DIR/MANIFEST
# records the commit, the Go version, each binary's source and version.
#
# bin/relcache-bench is not gathered: bench-cores.sh does not run it, and
# with it the bundle would not fit (two 30 MB Go binaries alone pass the
# 64 MiB a device call carries, with the 9 MB tree beside them). For the
# same reason a device call carries bench-bundle alone, not bin/.
#
# Knobs: MAX_MIB (default 54: 64 MiB less the tree) fails the bundle when
# it is larger; PEERS (lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
DIR=${1:-bench-bundle}
MAX_MIB=${MAX_MIB:-54}
BIN_DIR='' # look in bin/, PATH, /usr/sbin and PEERS, never in an old bundle

make -s build
rm -rf "$DIR"
mkdir -p "$DIR/lib" "$DIR/libexec"
missing=()
{
  echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' (uncommitted changes)')"
  echo "relcache: $(bin/relcache version)"
  echo "go: $(go version bin/relcache | awk '{print $NF}')"
  echo "made: $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -n), $(ldd --version | head -n 1)"
} >"$DIR/MANIFEST"

for name in relcache redis-server redis-cli redis-benchmark nutcracker valkey-server predixy memtier_benchmark; do
  if ! src=$(where "$name"); then
    missing+=("$name ($(origin "$name"))")
    continue
  fi
  # The libraries ldd resolves, less glibc's, which every Linux has.
  mapfile -t libs < <(ldd "$src" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' |
    grep -Ev '/(libc|libm|libpthread|libdl|librt|libresolv|ld-linux[^/]*)\.so[.0-9]*$' || true)
  if [ ${#libs[@]} -eq 0 ]; then
    cp -L "$src" "$DIR/$name"
  else
    cp -L "$src" "$DIR/libexec/$name"
    cp -nL "${libs[@]}" "$DIR/lib/"
    cat >"$DIR/$name" <<EOF
#!/bin/sh
# $name with the libraries beside it (scripts/bench-bundle.sh); exec keeps the pid.
d=\$(cd "\$(dirname "\$0")" && pwd)
LD_LIBRARY_PATH="\$d/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "\$d/libexec/$name" "\$@"
EOF
    chmod +x "$DIR/$name"
  fi
  [ "$name" = relcache ] && command -v strip >/dev/null && strip "$DIR/relcache"
  flag=--version
  [ "$name" = relcache ] && flag=version
  echo "$name: $src, $("$DIR/$name" $flag 2>&1 | head -n 1 || true)${libs[*]:+; libraries: ${libs[*]##*/}}" >>"$DIR/MANIFEST"
done
rmdir "$DIR/libexec" "$DIR/lib" 2>/dev/null || true
[ ${#missing[@]} -eq 0 ] || printf 'missing: %s\n' "${missing[@]}" >>"$DIR/MANIFEST"

mib=$(du -sm "$DIR" | cut -f1)
cat "$DIR/MANIFEST"
echo "bench-bundle: $DIR is $mib MiB"
if [ ${#missing[@]} -gt 0 ]; then
  printf 'bench-bundle: missing %s: bench-cores.sh will skip its rows\n' "${missing[@]}" >&2
fi
if [ "$mib" -gt "$MAX_MIB" ]; then
  echo "bench-bundle: $DIR is $mib MiB, over MAX_MIB=$MAX_MIB (a device call carries 64 MiB with the tree)" >&2
  exit 1
fi
