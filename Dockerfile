# SpamGuard service image: gunicorn serving the Flask app as a non-root user.
# A versioned base (not a floating tag), so a rebuild gets the same Python.
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    SPAMGUARD_VAR_DIR=/data \
    SPAMGUARD_BIND=0.0.0.0:8000

WORKDIR /app
# Same steps as `make install`: pinned requirements first (cached layer), then the project itself.
# .dockerignore keeps tests, benches, CI files and local state out of the image.
COPY requirements.txt ./
RUN pip install -r requirements.txt
COPY . .
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --home-dir /data --create-home spamguard \
    && mkdir -p /data && chown spamguard /data

USER spamguard
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
# Readiness, not mere liveness: healthy means database reachable and a model loaded (see /readyz).
# The worker service overrides this with `spamguard worker-health` (docker-compose.yml).
HEALTHCHECK --interval=30s --timeout=5s --start-period=180s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status != 200)"

# Migrates the database, trains a model on first start if /data/models is empty, then runs gunicorn
# (SPAMGUARD_BIND, SPAMGUARD_WORKERS, SPAMGUARD_THREADS).
CMD ["spamguard", "serve"]
