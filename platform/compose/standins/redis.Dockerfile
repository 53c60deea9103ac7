# Stand-in for redis:7-alpine (make compose-check): Debian's redis-server 7.0, run from /data
# as the official image does (its AOF lives there).
ARG BASE_IMAGE=stockflow/debian:bookworm
FROM ${BASE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server redis-tools \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown redis:redis /data
VOLUME /data
WORKDIR /data
USER redis
EXPOSE 6379
CMD ["redis-server"]
