# The dsa-registry API: GraphQL, GraphiQL and the lineage page on port 8000; callers authenticate
# (README: Authentication and roles).
#   docker build -t dsa-registry .
#   docker run -p 127.0.0.1:8000:8000 -e DSA_REGISTRY_STORE=neo4j://db:7687 -e NEO4J_USER=neo4j -e NEO4J_PASSWORD=... dsa-registry
# Publish the port on the loopback interface (as above) unless a TLS-terminating proxy or
# --ssl-certfile/--ssl-keyfile protect it. On first start with no API token in the store the
# container prints an admin token once (`docker logs`); create your own and revoke it.
# Without DSA_REGISTRY_STORE it uses an embedded store in /home/registry/registry.db (mode 0600).
# docker-compose.yml runs it together with Neo4j.
# The pages' browser packages (Cytoscape.js, GraphiQL, React) from the committed lock file.
FROM node:20-slim AS web-assets
WORKDIR /web
COPY registry/web/package.json registry/web/package-lock.json registry/web/.npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY graph ./graph
COPY registry ./registry
RUN pip install . && rm -rf /src
COPY --from=web-assets /web/node_modules /opt/dsa-registry/web-assets
ENV DSA_REGISTRY_WEB_ASSETS=/opt/dsa-registry/web-assets

RUN useradd --create-home --uid 10001 registry
USER registry
WORKDIR /home/registry

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=5 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["dsa-registry", "serve", "--host", "0.0.0.0", "--port", "8000", "--demo"]
