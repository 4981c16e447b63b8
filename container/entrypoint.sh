#!/bin/sh
# tai's container entry point: keep host-key trust where tai can write it, then exec tai.
# ~/.ssh is mounted read-only, so TAI_KNOWN_HOSTS points inside TAI_HOME (a volume); on first
# use it is seeded from the mounted ~/.ssh/known_hosts (or TAI_KNOWN_HOSTS_SEED) if present.
# A copy already in TAI_HOME is never overwritten: a host key tai learned stays pinned.
set -eu
: "${TAI_HOME:?TAI_HOME must be set}"
: "${TAI_KNOWN_HOSTS:=$TAI_HOME/known_hosts}"
export TAI_KNOWN_HOSTS
seed="${TAI_KNOWN_HOSTS_SEED:-${HOME:-/nonexistent}/.ssh/known_hosts}"
if [ ! -e "$TAI_KNOWN_HOSTS" ] && [ -r "$seed" ]; then
  mkdir -p "$(dirname "$TAI_KNOWN_HOSTS")"
  cp "$seed" "$TAI_KNOWN_HOSTS" || echo "tai-entrypoint: could not seed $TAI_KNOWN_HOSTS from $seed; is TAI_HOME writable by uid $(id -u)?" >&2
fi
exec tai "$@"
