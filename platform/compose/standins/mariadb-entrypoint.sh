#!/bin/sh
# First start on an empty data dir: create the system tables, the database and its user, and
# the root password, as the official image does; then run the server on every interface.
set -eu
data=/var/lib/mysql
if [ ! -d "$data/mysql" ]; then
  : "${MARIADB_ROOT_PASSWORD:?set MARIADB_ROOT_PASSWORD}"
  chown mysql:mysql "$data"
  mariadb-install-db --user=mysql --datadir="$data" --skip-test-db --auth-root-authentication-method=normal >/dev/null
  mariadbd --user=mysql --datadir="$data" --skip-networking --socket=/run/mysqld/init.sock &
  pid=$!
  for _ in $(seq 60); do
    mariadb-admin --socket=/run/mysqld/init.sock ping >/dev/null 2>&1 && break
    sleep 1
  done
  {
    echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$MARIADB_ROOT_PASSWORD';"
    echo "CREATE USER 'root'@'%' IDENTIFIED BY '$MARIADB_ROOT_PASSWORD';"
    echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
    if [ -n "${MARIADB_DATABASE:-}" ]; then
      echo "CREATE DATABASE IF NOT EXISTS \`$MARIADB_DATABASE\`;"
    fi
    if [ -n "${MARIADB_USER:-}" ]; then
      echo "CREATE USER '$MARIADB_USER'@'%' IDENTIFIED BY '${MARIADB_PASSWORD:?set MARIADB_PASSWORD}';"
      [ -n "${MARIADB_DATABASE:-}" ] && echo "GRANT ALL ON \`$MARIADB_DATABASE\`.* TO '$MARIADB_USER'@'%';"
    fi
    echo "FLUSH PRIVILEGES;"
  } | mariadb --socket=/run/mysqld/init.sock -uroot
  kill "$pid"
  wait "$pid" || true
fi
exec mariadbd --user=mysql --datadir="$data" --bind-address=0.0.0.0 "$@"
