# Stand-in for rabbitmq:3.13-management (make compose-check): Debian's rabbitmq-server 3.10
# (which reads the same /etc/rabbitmq/conf.d, enabled_plugins and RABBITMQ_* variables), run
# as the rabbitmq user with its node named after the container's hostname.
ARG BASE_IMAGE=stockflow/debian:bookworm
FROM ${BASE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends rabbitmq-server \
 && rm -rf /var/lib/apt/lists/* /var/lib/rabbitmq/mnesia \
 && : > /etc/rabbitmq/rabbitmq-env.conf \
 && mkdir -p /etc/rabbitmq/conf.d \
 && printf 'log.console = true\nlog.file = false\n' > /etc/rabbitmq/conf.d/10-defaults.conf \
 && echo '[rabbitmq_management].' > /etc/rabbitmq/enabled_plugins \
 && chown -R rabbitmq:rabbitmq /var/lib/rabbitmq /etc/rabbitmq
ENV PATH=/usr/lib/rabbitmq/bin:$PATH HOME=/var/lib/rabbitmq
VOLUME /var/lib/rabbitmq
USER rabbitmq
EXPOSE 5672 15672
CMD ["rabbitmq-server"]
