# syntax=docker/dockerfile:1
# One image for every service and the init jobs; docker-compose.yml gives each its command:
#   node services/<name>/main.js
# The image runs the compiled build (scripts/build.ts) with plain node on Node 24 LTS: no
# TypeScript loader, no development dependency, no source tree at run time.
ARG NODE_IMAGE=node:24-bookworm-slim

# onnxruntime-node's install step would download optional GPU binaries from outside the npm
# registry; its CPU binaries ship inside the package. patches/: fixes to dependencies that
# npm ci applies (postinstall: patch-package).
FROM ${NODE_IMAGE} AS build
WORKDIR /src
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json .npmrc ./
COPY patches ./patches
RUN npm ci --no-audit --no-fund
COPY . .
# The compiled services, CLI, worker modules and stack scripts, with their assets (topic
# catalogue, Avro schemas, ClickHouse migrations) beside them, in /src/dist.
RUN node --import tsx scripts/build.ts dist \
    # models/ and data/ are optional in the repository, and COPY fails on a missing path.
    && mkdir -p models data

# Production dependencies only.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json .npmrc ./
COPY patches ./patches
RUN npm ci --omit=dev --no-audit --no-fund \
    && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and read-only for the `node` user: a compromised service cannot rewrite code.
COPY --from=deps /app/node_modules ./node_modules
# The build: package.json (ESM, the #platform and #domain imports maps), services/, scripts/, infra/
# (schema migrations), topics/, schemas/.
COPY --from=build /src/dist ./
# Config paths' defaults are relative to the working directory (/app): the committed models
# and the small reference files (vocabulary, labelled reference/evaluation sets; see
# data/PROVENANCE.md).
COPY --from=build /src/models ./models
COPY --from=build /src/data ./data
# The only writable places in the image: service state, and the artifact store (a named
# volume mounted there takes this ownership on first use).
RUN mkdir -p /app/var /var/lib/sentiment/artifacts \
  && chown node:node /app/var /var/lib/sentiment/artifacts
USER node
# No default service: docker-compose.yml sets the command of each.
CMD ["node", "-e", "console.error('set the command, e.g. node services/<name>/main.js'); process.exit(64)"]
