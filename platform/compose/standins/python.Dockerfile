# Stand-in for python:3.11-slim-bookworm (make compose-check; no image registry is reachable):
# Debian's own Python 3.11 in a venv on PATH, with the headers C extensions build against.
# platform/compose/check.py builds it with the host's pip CA and index (pip-cert.pem,
# PIP_INDEX_URL) so that pip in the project's build reaches PyPI as the host does.
ARG BASE_IMAGE=stockflow/debian:bookworm
FROM ${BASE_IMAGE}
ARG PIP_INDEX_URL=
COPY pip-cert.pem /etc/ssl/certs/pip-cert.pem
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv python3-dev ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/python \
 && printf '[global]\n' > /etc/pip.conf \
 && if [ -s /etc/ssl/certs/pip-cert.pem ]; then printf 'cert = /etc/ssl/certs/pip-cert.pem\n' >> /etc/pip.conf; fi \
 && if [ -n "$PIP_INDEX_URL" ]; then printf 'index-url = %s\n' "$PIP_INDEX_URL" >> /etc/pip.conf; fi
ENV PATH=/opt/python/bin:$PATH LANG=C.UTF-8
CMD ["python3"]
