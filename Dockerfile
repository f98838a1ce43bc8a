# One image for the web service and the worker.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /srv/shuima
COPY pyproject.toml README.md ./
COPY app ./app
COPY workers ./workers
COPY migrations ./migrations
COPY alembic.ini gunicorn.conf.py ./
RUN pip install . && useradd --system --home /srv/shuima shuima && mkdir -p instance && chown shuima instance
USER shuima

ENV SHUIMA_ENV=production SHUIMA_WEB_BIND=0.0.0.0:8000 PROMETHEUS_MULTIPROC_DIR=/tmp
EXPOSE 8000
CMD ["gunicorn", "-c", "gunicorn.conf.py", "app.wsgi:app"]
