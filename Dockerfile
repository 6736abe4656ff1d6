# syntax=docker/dockerfile:1
# One image for every service and the init job; docker-compose.yml gives each its command:
#   node --import tsx services/<name>/main.ts
# The TypeScript sources run through tsx (a runtime dependency), so there is no build step.
ARG NODE_IMAGE=node:20-bookworm-slim

# Production dependencies only. onnxruntime-node's install step would download optional GPU
# binaries from outside the npm registry; its CPU binaries ship inside the package.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV ONNXRUNTIME_NODE_INSTALL=skip
# patches/: fixes to dependencies that npm ci applies (postinstall: patch-package).
COPY package.json package-lock.json .npmrc ./
COPY patches ./patches
RUN npm ci --omit=dev --no-audit --no-fund \
    && npm cache clean --force

# The source tree as filtered by .dockerignore. models/ and data/ are optional in the
# repository, and COPY fails on a missing path, so make sure both exist for the runtime stage.
FROM ${NODE_IMAGE} AS source
WORKDIR /src
COPY . .
RUN mkdir -p models data

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and read-only for the `node` user: a compromised service cannot rewrite code.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=source /src/package.json ./package.json
COPY --from=source /src/services ./services
COPY --from=source /src/schemas ./schemas
COPY --from=source /src/topics ./topics
COPY --from=source /src/scripts ./scripts
COPY --from=source /src/models ./models
# Small reference files (vocabulary, labelled reference/evaluation sets; see data/PROVENANCE.md).
COPY --from=source /src/data ./data
# ClickHouse migrations, applied by the logger and the mlops CLI at start.
COPY --from=source /src/infra/clickhouse/migrations ./infra/clickhouse/migrations
# The only writable places in the image: service state, and the artifact store (a named
# volume mounted there takes this ownership on first use).
RUN mkdir -p /app/var /var/lib/sentiment/artifacts \
  && chown node:node /app/var /var/lib/sentiment/artifacts
USER node
# No default service: docker-compose.yml sets the command of each.
CMD ["node", "-e", "console.error('set the command, e.g. node --import tsx services/<name>/main.ts'); process.exit(64)"]
