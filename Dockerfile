# syntax=docker/dockerfile:1
# One image for every process of fedapay-bridge: the webhook ingress (default command), the stream
# workers (`worker`), topic creation (`topics create`) and the simulator (`simulate`).
#
#   docker build -t fedapay-bridge:0.1.0 .
#   docker run --rm -p 8080:8080 --read-only --tmpfs /tmp fedapay-bridge:0.1.0          # ingress
#   docker run --rm --read-only --tmpfs /tmp -v data:/var/lib/fedapay-bridge fedapay-bridge:0.1.0 worker
#
# Runs as uid/gid 10001 with a read-only root filesystem: it writes only to /tmp (an emptyDir in
# the chart) and to the worker data directory /var/lib/fedapay-bridge (a volume).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- builder: the project and its dependencies, built into a virtual environment -------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

# A venv without pip or setuptools: the image's own pip installs into it from outside.
RUN python -m venv --without-pip /opt/venv

WORKDIR /src
# The dependencies first, pinned and hash-checked (requirements.lock: runtime and uvloop).
COPY requirements.lock ./
RUN pip --python /opt/venv/bin/python install --no-cache-dir --compile --require-hashes \
        -r requirements.lock

COPY pyproject.toml README.md ./
COPY common ./common
COPY schemas ./schemas
COPY ingress ./ingress
COPY streams ./streams
COPY simulator ./simulator
COPY reconcile ./reconcile

# Build a wheel of the project and install it without dependencies (the lock brought them, uvloop
# included); compile bytecode now (the final image's filesystem is read-only).
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /tmp/wheels . \
    && pip --python /opt/venv/bin/python install --no-cache-dir --compile --no-deps \
        "$(find /tmp/wheels -name 'fedapay_bridge-*.whl')" \
    && /opt/venv/bin/fedapay-bridge --help > /dev/null

# ---- final: the runtime only -----------------------------------------------------------------
FROM ${PYTHON_IMAGE}

LABEL org.opencontainers.image.title="fedapay-bridge" \
      org.opencontainers.image.description="Verified FedaPay webhooks to reliable Kafka streams" \
      org.opencontainers.image.licenses="Apache-2.0"

RUN groupadd --system --gid 10001 bridge \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin bridge \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/fedapay-bridge

COPY --from=builder /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    FEDAPAY_BRIDGE_HTTP_HOST=0.0.0.0 \
    FEDAPAY_BRIDGE_DATA_DIR=/var/lib/fedapay-bridge

WORKDIR /tmp
USER 10001:10001
EXPOSE 8080 6066

ENTRYPOINT ["fedapay-bridge"]
CMD ["ingress"]
