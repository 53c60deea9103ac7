#!/bin/sh
# The official image's `healthcheck.sh --connect --innodb_initialized`, as far as compose uses it:
# the server takes a connection and InnoDB is up.
mariadb -uroot -p"$MARIADB_ROOT_PASSWORD" -h127.0.0.1 -N -e \
  "SELECT 1 FROM information_schema.ENGINES WHERE ENGINE='InnoDB' AND SUPPORT IN ('YES','DEFAULT')" \
  2>/dev/null | grep -q 1
