# syntax=docker/dockerfile:1
# Conduit's image: wheels built from the hash-checked lock in one stage, a slim runtime without compilers
# in the other. Build: docker build -t conduit . (docs/deployment.md, "Docker").
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY requirements/main.lock requirements/main.lock
# Every locked package, hash-checked, as a wheel; hatchling (locked too) then builds Conduit's own wheel.
RUN pip wheel --require-hashes --no-deps --wheel-dir /wheels -r requirements/main.lock \
    && pip install --require-hashes --no-deps -r requirements/main.lock
COPY pyproject.toml README.md ./
COPY src src
COPY migrations migrations
RUN pip wheel --no-deps --no-build-isolation --wheel-dir /wheels .

FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/venv/bin:$PATH \
    CONDUIT_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000
RUN groupadd --system --gid 10001 conduit \
    && useradd --system --no-log-init --uid 10001 --gid conduit --home-dir /app --shell /usr/sbin/nologin conduit
# The wheels come in through a bind mount, so they never become a layer of this image.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-index --no-deps /wheels/*.whl
WORKDIR /app
COPY deploy/gunicorn.conf.py deploy/gunicorn.conf.py
COPY deploy/nginx deploy/nginx
COPY deploy/docker deploy/docker
# /app/logs receives conduit.log when LOG_DIR=/app/logs (mount a volume there, seed 000); /app/nginx is
# where compose's nginx-site service writes nginx's configuration and static files (a named volume mounted
# there starts with this ownership).
RUN install -d -o conduit -g conduit -m 0750 /app/logs /app/var \
    && install -d -o conduit -g conduit -m 0755 /app/nginx /app/nginx/conf.d /app/nginx/static
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]
ENTRYPOINT ["/app/deploy/docker/entrypoint.sh"]
CMD ["gunicorn", "--config", "deploy/gunicorn.conf.py", "--worker-tmp-dir", "/dev/shm", "conduit.wsgi:app"]
