# A store's Pi for make compose-check: the project image plus the edge agent's own
# requirements (edge_agent/requirements.txt: evdev, which `run --stdin` imports too) and code.
# Built with edge_agent/ as the context.
ARG APP_IMAGE=stockflow:latest
FROM ${APP_IMAGE}
USER root
COPY requirements.txt /tmp/edge-agent-requirements.txt
RUN pip install --no-cache-dir -r /tmp/edge-agent-requirements.txt
COPY . /app/edge_agent
USER stockflow
