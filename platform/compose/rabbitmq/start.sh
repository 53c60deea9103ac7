#!/bin/sh
# Renders Stockflow's RabbitMQ definitions, then (without --render-only) runs RabbitMQ.
# definitions.json gets the platform user's password (RABBITMQ_PASSWORD: from .env in compose,
# /etc/stockflow/rabbitmq.env on a host; the repository holds no secret) and is written where
# only the rabbitmq user reads it; rabbitmq.conf's load_definitions imports it at every boot.
# The feature queues are not defined here: the workers declare them (quorum queues, with the
# arguments in core/celery_app.py). The Pis' users come from `flask --app web devices add`.
set -eu
: "${RABBITMQ_PASSWORD:?set RABBITMQ_PASSWORD}"
case "$RABBITMQ_PASSWORD" in
  *[!A-Za-z0-9_.~-]*)
    echo "RABBITMQ_PASSWORD: only letters, digits and - _ . ~ (it is written into broker URLs)" >&2
    exit 78 ;;
esac
umask 077
mkdir -p /tmp/stockflow-rabbitmq
sed "s/@RABBITMQ_PASSWORD@/$RABBITMQ_PASSWORD/" "$(dirname "$0")/definitions.json" \
  > /tmp/stockflow-rabbitmq/definitions.json
[ "${1:-}" = "--render-only" ] && exit 0
exec rabbitmq-server
