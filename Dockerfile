# ocpp-chaos in a container (docs/getting-started.md, "In a container"):
#
#   docker build -t ocpp-chaos .
#   docker run --rm -p 9000:9000 ocpp-chaos          # proxy in front of the embedded CSMS
#   docker run --rm -p 9000:9000 ocpp-chaos proxy --listen 0.0.0.0:9000 \
#       --upstream ws://csms.example:8180/ocpp --headless
#   docker compose up                                 # CSMS, proxy, fleet, web console
#
# Anything after the image name is an `ocpp-chaos` command line. tests/test_container.py
# checks this file against the CLI (Docker itself does not run in the test suite).

# -- build: a virtual environment with ocpp-chaos and uvloop -----------------------------
FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md LICENSE.md ./
COPY ocpp_chaos ./ocpp_chaos
RUN /opt/venv/bin/pip install '.[fast]'

# -- runtime: the environment, the examples, an unprivileged user -------------------------
FROM python:3.12-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --gid 10001 chaos && useradd --create-home --uid 10001 --gid 10001 chaos
COPY --from=build /opt/venv /opt/venv
COPY rules /opt/ocpp-chaos/rules
COPY scenarios /opt/ocpp-chaos/scenarios
USER 10001:10001
WORKDIR /home/chaos

# 9000: the proxy (chargers connect here); 8181: the control API; 8182: the web console.
EXPOSE 9000 8181 8182

# Healthy when the control API answers /api/status. The URL can be changed with
# OCPP_CHAOS_HEALTH_URL (e.g. the web console's page); a token, when the API needs one,
# comes from $OCPP_CHAOS_API_TOKEN or the compose secret /run/secrets/api_token.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; url = os.environ.get('OCPP_CHAOS_HEALTH_URL', 'http://127.0.0.1:8181/api/status'); path = '/run/secrets/api_token'; token = os.environ.get('OCPP_CHAOS_API_TOKEN') or (open(path).read().strip() if os.path.isfile(path) else ''); r.urlopen(r.Request(url, headers={'Authorization': 'Bearer ' + token} if token else {}), timeout=4)"]

ENTRYPOINT ["ocpp-chaos"]
# Headless: the proxy on every interface, in front of the embedded reference CSMS; the
# control API on the container's loopback only (no token needed there; the health check
# uses it). Publish the API with --api 0.0.0.0:8181 and a token (compose.yaml does).
CMD ["proxy", "--listen", "0.0.0.0:9000", "--api", "127.0.0.1:8181", "--headless"]
