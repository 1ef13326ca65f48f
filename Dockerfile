# openminutes: one image runs the bot. Data (database) and minutes live on volumes.
#   docker build -t openminutes .
#   docker run -v om-data:/data -v om-minutes:/minutes -v $PWD/config.toml:/config/config.toml:ro openminutes
# In config.toml use: [storage] url = "sqlite:////data/openminutes.db", [publish] dir = "/minutes"
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
WORKDIR /data
ENTRYPOINT ["openminutes"]
CMD ["run", "-c", "/config/config.toml"]
