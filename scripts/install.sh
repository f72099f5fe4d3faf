#!/usr/bin/env bash
# Installs pg-logplexcollector from this checkout, the same way a registry install would:
# `npm pack` makes the tarball `npm publish` would upload, and that tarball is installed under
# PREFIX with production dependencies only. Then the systemd unit goes in with its paths set to
# PREFIX, and an environment file for LOGPLEX_URL and flags is created if there is none.
#
#   scripts/install.sh [--unit-dir DIR] [--env-file FILE] [--no-user] [--no-build] PREFIX
#   npm run install:prefix -- /opt/pg-logplexcollector
#
# --unit-dir   where the unit goes (default /etc/systemd/system)
# --env-file   the unit's EnvironmentFile= (default /etc/default/pg-logplexcollector)
# --no-user    do not create the pg-logplexcollector system user (done by default when root)
# --no-build   pack the dist/ already built rather than building it again
set -euo pipefail

usage() {
  sed -n '7,14s/^# \{0,1\}//p' "$0" >&2
  exit "${1:-2}"
}

unit_dir=/etc/systemd/system
env_file=/etc/default/pg-logplexcollector
make_user=1
build=1
prefix=
while [ $# -gt 0 ]; do
  case "$1" in
    --unit-dir) unit_dir=${2:?--unit-dir needs a directory}; shift 2 ;;
    --env-file) env_file=${2:?--env-file needs a file}; shift 2 ;;
    --no-user) make_user=0; shift ;;
    --no-build) build=0; shift ;;
    -h|--help) usage 0 ;;
    -*) echo "install.sh: unknown option $1" >&2; usage ;;
    *) [ -z "$prefix" ] || usage; prefix=$1; shift ;;
  esac
done
[ -n "$prefix" ] || usage
case "$prefix" in /*) ;; *) echo "install.sh: PREFIX must be an absolute path (the unit names it)" >&2; exit 2 ;; esac
case "$prefix$unit_dir$env_file" in *' '*) echo "install.sh: paths with spaces cannot go in a unit file" >&2; exit 2 ;; esac

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The build (npm pack runs `prepare`, the TypeScript build) needs the dev dependencies.
if [ "$build" = 1 ]; then
  [ -x node_modules/.bin/tsc ] || npm ci --no-audit --no-fund
  tarball=$(npm pack --silent --pack-destination "$work" | tail -n 1)
else
  [ -f dist/daemon/main.js ] || { echo "install.sh: --no-build, but dist/ is not built (npm run build)" >&2; exit 2; }
  tarball=$(npm pack --silent --ignore-scripts --pack-destination "$work" | tail -n 1)
fi

# The tarball is kept beside what it installed: PREFIX/package.json names it, and it is what
# `npm publish` of this version would upload.
mkdir -p "$prefix"
cp "$work/$tarball" "$prefix/$tarball"
# --ignore-scripts: no production dependency needs one, and `prepare` (the build) is for checkouts.
npm install --prefix "$prefix" --omit=dev --ignore-scripts --no-audit --no-fund "$prefix/$tarball"
bin="$prefix/node_modules/.bin/pg-logplexcollector"
"$bin" --version >/dev/null

mkdir -p "$unit_dir"
sed -e "s#/opt/pg-logplexcollector#$prefix#g" \
    -e "s#^EnvironmentFile=-/etc/default/pg-logplexcollector\$#EnvironmentFile=-$env_file#" \
    deploy/pg-logplexcollector.service > "$unit_dir/pg-logplexcollector.service"
chmod 0644 "$unit_dir/pg-logplexcollector.service"

# LOGPLEX_URL may carry credentials: the file is read by systemd (as root) before the daemon
# starts, and by nobody else.
if [ ! -e "$env_file" ]; then
  mkdir -p "$(dirname "$env_file")"
  (umask 077 && cp deploy/pg-logplexcollector.env "$env_file")
fi

if [ "$make_user" = 1 ] && [ "$(id -u)" = 0 ] && ! id pg-logplexcollector >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/pg-logplexcollector --shell /usr/sbin/nologin pg-logplexcollector
fi
if [ "$unit_dir" = /etc/systemd/system ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
fi

echo "installed $tarball in $prefix"
echo "unit: $unit_dir/pg-logplexcollector.service, environment: $env_file"
