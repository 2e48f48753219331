# Stancewatch: one image; the config is mounted, state/ is a volume, `stancewatch run` by default.
FROM python:3.11-slim

# Debian's Chromium for `render: true` targets (scrapy-playwright drives it; no browser download).
RUN apt-get update && apt-get install -y --no-install-recommends chromium \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 stancewatch
WORKDIR /app
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY spiders ./spiders
# The same install command as the README's first line, which CI proves on every change.
RUN pip install --no-cache-dir . && mkdir -p /data/state && chown stancewatch /data/state

USER stancewatch
ENV STANCEWATCH_CONFIG=/config/targets.yaml \
    STANCEWATCH_STATE=/data/state \
    PYTHONUNBUFFERED=1
VOLUME ["/data/state"]
HEALTHCHECK --interval=5m --timeout=30s --start-period=10m \
  CMD ["stancewatch", "status", "--health"]
CMD ["stancewatch", "run"]
