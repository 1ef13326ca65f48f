# openminutes: one image runs the bot. Data (database) and minutes live on volumes.
#   docker build -t openminutes .
#   docker run -v om-data:/data -v om-minutes:/minutes -v $PWD/config.toml:/config/config.toml:ro openminutes
# In config.toml use: [storage] url = "sqlite:////data/openminutes.db", [publish] dir = "/minutes",
# and [metrics] listen = "0.0.0.0:9100" for the HEALTHCHECK (`serve` answers /healthz on
# its [web] listen: set OPENMINUTES_HEALTH_URL to match). compose.yaml runs the rest.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
# The project as a whole (what .dockerignore leaves out is not needed to install it).
COPY . ./
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin openminutes \
    && mkdir -p /data /minutes /config \
    && chown openminutes:openminutes /data /minutes

USER openminutes
VOLUME ["/data", "/minutes"]
ENV OPENMINUTES_HEALTH_URL=http://127.0.0.1:9100/healthz
# 200 while the database and every network are reachable (GET /healthz), 503 otherwise.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['OPENMINUTES_HEALTH_URL'], timeout=4)"]
WORKDIR /data
ENTRYPOINT ["openminutes"]
CMD ["run", "-c", "/config/config.toml"]
