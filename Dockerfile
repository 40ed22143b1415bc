# syntax=docker/dockerfile:1
# Warden: one image for every role. Kubernetes (kubernetes/) overrides the command per role:
#   node bin/warden.js state | broker | worker
# Build: docker build -t warden:latest .

# ---- build: install dependencies (better-sqlite3 compiles natively when no prebuilt binary fits)
FROM node:20-bookworm-slim AS build
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# The browser client's bundle and the package's dist/ (client/dist is a build output, not in git).
RUN node client/scripts/build.js
# Production dependencies only (tsx, which runs the TypeScript sources, is one of them).
RUN npm prune --omit=dev --no-audit --no-fund

# ---- runtime
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
RUN groupadd --system --gid 10001 warden \
  && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home --shell /usr/sbin/nologin warden
# Owned by root and only readable by the app user, so the code cannot be changed at run time.
COPY --from=build /app /app
# The only places Warden writes: DATA_DIR (./data) and tsx's cache in /tmp.
RUN mkdir -p /app/data && chown 10001:10001 /app/data && chmod 0700 /app/data
USER 10001:10001
EXPOSE 8000 7777 8888
CMD ["node", "bin/warden.js", "worker"]
