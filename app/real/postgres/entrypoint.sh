#!/bin/sh
# PostgreSQL for the Todo app, configured like the official image: POSTGRES_PASSWORD (required),
# POSTGRES_USER, POSTGRES_DB, PGDATA.
set -eu
: "${PGDATA:?PGDATA is required}"
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}

# Runs SQL in single-user mode (as the bootstrap superuser, no server, no network).
single() { postgres --single -D "$PGDATA" postgres >/dev/null; }
quote_literal() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"; }

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    echo "initialising $PGDATA (user $user, database $db)"
    mkdir -p "$PGDATA"
    chmod 700 "$PGDATA"
    pwfile=$(mktemp)
    printf '%s' "$POSTGRES_PASSWORD" >"$pwfile"
    initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f "$pwfile"
    echo "host all all 0.0.0.0/0 scram-sha-256" >>"$PGDATA/pg_hba.conf"
    if [ "$db" != postgres ]; then
        printf 'CREATE DATABASE "%s" OWNER "%s";\n' "$db" "$user" | single
    fi
fi

# A pod's fsGroup makes the volume group-writable (setgid) each time kubelet mounts it, and
# PostgreSQL refuses a data directory others can enter (as the official image does, reset it).
chmod 700 "$PGDATA"

# The Secret's password wins on every start, so a rotated password takes effect when the pod
# restarts (todoplan rolls it when the Secret changes).
printf 'ALTER ROLE "%s" PASSWORD %s;\n' "$user" "$(quote_literal "$POSTGRES_PASSWORD")" | single

echo "starting PostgreSQL"
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/var/run/postgresql
