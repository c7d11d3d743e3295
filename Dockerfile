# pcap-analyzer: the web service and its workers in one image.
#   docker build -t pcap-analyzer .
#   docker run -e SECRET_KEY=... -e DATABASE_URL=postgresql://... -p 8000:8000 -v pcap_data:/data pcap-analyzer
#   docker run ... pcap-analyzer pcap-analyzer worker          (a standalone worker from the same image)
# Configured only by environment variables (see .env.example); the default command migrates, then serves.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- requirements: the dependency list alone, so that the install layer below is reused until it changes
FROM ${PYTHON_IMAGE} AS requirements
WORKDIR /src
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies'] + p['optional-dependencies']['web']))" > requirements.txt

# ---- build: dependencies, the package, and the engine's kernels compiled ahead of time ----------------
FROM ${PYTHON_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ \
 && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY --from=requirements /src/requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt

# The engine's kernels, compiled ahead of time from the engine sources alone (a change to `app` reuses them).
# They are compiled for a CPU model: `generic` (default) runs on any CPU of the architecture, so the image
# runs wherever it is pulled; `--build-arg AOT_CPU=host` is faster but only on CPUs like the builder's.
COPY samples/demo.pcap samples/demo.pcap
COPY pcap_analyzer pcap_analyzer
ARG AOT_CPU=generic
RUN PCAP_ANALYZER_AOT_CPU="$AOT_CPU" python -m pcap_analyzer.aot

COPY pyproject.toml README.md alembic.ini ./
COPY app app
RUN pip install --no-deps . \
 && rm -rf build \
 && site="$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
 && cp pcap_analyzer/_kernels.json pcap_analyzer/_kernels.*.so "$site/pcap_analyzer/" \
 && cd / && python -c "from pcap_analyzer import jit; assert jit.MODE == 'aot', 'compiled kernels not used'"

# ---- runtime: no compiler, non-root --------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
RUN groupadd --gid 10001 pcap \
 && useradd --uid 10001 --gid pcap --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin pcap \
 && mkdir -p /data \
 && chown pcap:pcap /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /opt/pcap-analyzer
# `alembic upgrade head` works here as the PostgreSQL guide shows (the scripts ship in the package).
COPY alembic.ini ./
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ENVIRONMENT=production \
    DATA_DIR=/data \
    DATABASE_URL=sqlite:////data/pcap_analyzer.db \
    PORT=8000 \
    NUMBA_CACHE_DIR=/tmp/numba-cache
USER pcap
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/api/health' % os.environ.get('PORT', '8000'), timeout=4)"]
# `serve` applies the migrations first, then runs uvicorn with the embedded worker (WORKER_ENABLED).
CMD ["sh", "-c", "exec pcap-analyzer serve --host 0.0.0.0 --port \"${PORT:-8000}\""]
