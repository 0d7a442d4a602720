# SpamGuard service image: gunicorn serving the Flask app as a non-root user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    SPAMGUARD_VAR_DIR=/data

WORKDIR /app
# Same steps as `make install`: pinned requirements first (cached layer), then the project itself.
COPY requirements.txt ./
RUN pip install -r requirements.txt
COPY . .
RUN pip install --no-deps -e . \
    && useradd --system --uid 10001 --home-dir /data --create-home spamguard \
    && mkdir -p /data && chown spamguard /data

USER spamguard
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=180s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"

# Migrates the database, trains a model on first start if /data/models is empty, then runs gunicorn.
CMD ["spamguard", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
