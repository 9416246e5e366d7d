# The Lifeline API image; docker-compose.yml runs it next to PostGIS + pgRouting and Redis.
# The pages' third-party browser code (Leaflet), pinned by package-lock.json; served by the app.
FROM node:20-slim AS web
WORKDIR /web
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY data ./data
COPY dispatch ./dispatch
COPY routing ./routing
COPY facilities ./facilities
COPY realtime ./realtime
COPY identity ./identity
COPY care ./care
COPY messaging ./messaging
COPY console_api ./console_api
COPY scripts ./scripts
RUN pip install --no-cache-dir .
COPY --from=web /web/node_modules ./node_modules
ENV LIFELINE_WEB_NODE_MODULES=/app/node_modules
EXPOSE 8000
CMD ["sh", "scripts/container_start.sh"]
