# syntax=docker/dockerfile:1
# One image for every role: `orchestrator-bot serve`, `orchestrator-bot controller`, and the others.
#   docker build -t REGISTRY/orchestrator-bot:0.1.0 .
# Both stages use the same base, so the virtualenv's interpreter link stays valid in the final one.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
# Every dependency ships wheels for linux/amd64 and linux/arm64: nothing is compiled, no build tools.
COPY pyproject.toml README.md ./
COPY bot/ bot/
# The production set: no extras (the demo's local APIs and their schemas, `[sandbox]`, stay out).
# The Job templates, the CRDs and the default job settings are package data (bot/assets/).
# pip compiles the bytecode here, so the final image never needs to write it.
RUN /opt/venv/bin/pip install .

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="orchestrator-bot" \
      org.opencontainers.image.description="Starts AI coding agents on Kubernetes from GitHub comments" \
      org.opencontainers.image.licenses="MIT"
# The root filesystem can be read-only at run time: nothing writes bytecode or caches.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 orchestrator \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin orchestrator
COPY --from=build /opt/venv /opt/venv
# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["orchestrator-bot"]
CMD ["--help"]
