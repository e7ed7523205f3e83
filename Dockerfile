# syntax=docker/dockerfile:1
# lmgate container image: `lmgate serve --host 0.0.0.0` on port 4000 (`docker run IMAGE validate ...`
# runs other commands), config at /etc/lmgate/config.yaml (the embedded mock config until you mount
# your own), state (request log, spool) in the /var/lib/lmgate volume. Built and pushed by
# .github/workflows/image.yml; docs/deploy.md has the run commands.
ARG PYTHON_VERSION=3.12

# Build stage: a virtualenv with lmgate and its dependencies (all ship wheels; no compiler needed).
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/lmgate
COPY pyproject.toml README.md ./
COPY src ./src
# pip byte-compiles what it installs (a read-only image never writes .pyc files), then leaves the venv.
RUN /opt/lmgate/bin/pip install . \
 && /opt/lmgate/bin/python -m pip uninstall --yes pip

# Final stage: the same slim base, the virtualenv, a non-root user; no pip cache, sources or build tools.
FROM python:${PYTHON_VERSION}-slim-bookworm
ARG VERSION=0.0.0
LABEL org.opencontainers.image.title="lmgate" \
      org.opencontainers.image.description="A fast, self-hosted LLM gateway (OpenAI and Ollama APIs, LiteLLM-style config)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 lmgate \
 && useradd --system --uid 10001 --gid lmgate --no-log-init --home-dir /var/lib/lmgate --shell /usr/sbin/nologin lmgate \
 && mkdir -p /etc/lmgate /var/lib/lmgate \
 && chown lmgate:lmgate /var/lib/lmgate
COPY --from=build /opt/lmgate /opt/lmgate
COPY src/lmgate/config/default.yaml /etc/lmgate/config.yaml
ENV PATH=/opt/lmgate/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LMGATE_STATE_DIR=/var/lib/lmgate
VOLUME ["/var/lib/lmgate"]
USER 10001:10001
WORKDIR /var/lib/lmgate
EXPOSE 4000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:4000/health/liveliness', timeout=4)"]
ENTRYPOINT ["lmgate"]
CMD ["serve", "--host", "0.0.0.0", "--port", "4000", "--config", "/etc/lmgate/config.yaml"]
