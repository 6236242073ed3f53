# Herald's container image.
#
#   docker build -t herald:0.1.0 .
#   docker run --rm --read-only -p 8080:8080 -p 9091:9091 \
#     -e HERALD_JWT_SECRET=... -e HERALD_API_KEYS=... -e HERALD_REDIS_URL=redis://redis:6379 herald:0.1.0
#
# Base image: Debian 12 (bookworm) with Node.js 20, on purpose. uWebSockets.js
# ships native binaries built against glibc (2.36 here) for Node.js ABIs 93,
# 108 and 115 (Node 16, 18, 20): on Alpine (musl) or on another Node.js major
# the binary does not load, the package falls back to a slow JavaScript
# imitation, and Herald refuses to start (README, "Runtime and uWebSockets.js").
# The package has binaries for linux/amd64 and linux/arm64, so the image builds
# for both (docker buildx build --platform linux/amd64,linux/arm64 .).
ARG NODE_IMAGE=node:20-bookworm-slim

# --- build: TypeScript → dist/, with the dev dependencies --------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# sdk/ is an npm workspace of the root package: npm ci needs its manifest.
COPY package.json package-lock.json ./
COPY sdk/package.json ./sdk/
# No install scripts: compiling needs only typescript and type packages, and
# skipping them keeps optional native dev dependencies from trying to build.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

# --- deps: production dependencies only ---------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY sdk/package.json ./sdk/
# --ignore-scripts is safe: no production dependency needs an install script
# (uWebSockets.js ships its binaries prebuilt; the only packages with scripts
# are bufferutil and utf-8-validate, optional helpers of its fallback, which
# Herald never runs).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# --- runtime ------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="herald" \
      org.opencontainers.image.description="Horizontally scalable pub/sub WebSocket push gateway" \
      org.opencontainers.image.licenses="MIT"
# Production mode: a missing JWT key is a startup error, never a generated one.
# No secret is set here: JWT keys, API keys and Redis passwords come from the
# environment at run time (docker run -e, a Kubernetes Secret).
ENV NODE_ENV=production
WORKDIR /app
# Everything is owned by root and only readable by the runtime user: Herald
# writes nothing to disk, so the container runs with a read-only root filesystem.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# uid/gid 1000 is the image's unprivileged "node" user. Numeric, so that
# Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 1000:1000
# 8080: WebSocket /ws, POST /v1/publish, /healthz, /readyz. 9091: /metrics only.
EXPOSE 8080 9091
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HERALD_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Node runs as PID 1 directly (exec form: no shell, no npm in between, so the
# signal reaches Herald). Herald installs its own SIGTERM/SIGINT handlers (turn
# /readyz to 503, close connections with 1001 over HERALD_DRAIN_SECONDS, exit 0)
# and starts no child processes, so it needs no init to forward signals or reap
# zombies. Give `docker stop` more time than the drain: docker stop -t 30.
STOPSIGNAL SIGTERM
# V8's young generation at 2 MiB semi-spaces instead of Node's 16 MiB: a
# connect storm grows it to the maximum and V8 keeps it committed while the
# connections sit idle, 0.5 KiB of RSS per connection at 20,000 of them. Costs
# a few percent of CPU on the HTTP publish path (README, "Runtime"); override
# with NODE_OPTIONS. npm start and bench/ run Node with the same flag.
ENV NODE_OPTIONS="--max-semi-space-size=2"
ENTRYPOINT ["node", "dist/main.js"]
