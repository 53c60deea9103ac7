# Stand-in for mariadb:10.11 (make compose-check): Debian's mariadb-server 10.11, with the
# official image's first-start variables (MARIADB_DATABASE, _USER, _PASSWORD, _ROOT_PASSWORD)
# and its healthcheck.sh, the two things docker-compose.yml relies on.
ARG BASE_IMAGE=stockflow/debian:bookworm
FROM ${BASE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends mariadb-server mariadb-client \
 && rm -rf /var/lib/apt/lists/* /var/lib/mysql/* \
 && mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld /var/lib/mysql
COPY mariadb-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
COPY mariadb-healthcheck.sh /usr/local/bin/healthcheck.sh
VOLUME /var/lib/mysql
EXPOSE 3306
ENTRYPOINT ["sh", "/usr/local/bin/docker-entrypoint.sh"]
CMD []
