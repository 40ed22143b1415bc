# syntax=docker/dockerfile:1
# Warden: one image for every role. Kubernetes (kubernetes/) overrides the command per role:
#   node bin/warden.js state | broker | worker
# Build: docker build -t warden:latest .

# ---- build: install every dependency (better-sqlite3 compiles natively when no prebuilt binary
# fits), compile the TypeScript into dist/, then drop the dev dependencies (typescript, tsx and its
# esbuild binary among them).
FROM node:20-bookworm-slim AS build
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build
# The browser client's bundle and the package's dist/ (client/dist is a build output, not in git).
RUN node client/scripts/build.js
RUN npm prune --omit=dev --no-audit --no-fund

# ---- runtime: the compiled JavaScript, its production dependencies and the demo page's files;
# no sources, no compiler, no TypeScript loader.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
RUN groupadd --system --gid 10001 warden \
  && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home --shell /usr/sbin/nologin warden
# Owned by root and only readable by the app user, so the code cannot be changed at run time.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
COPY --from=build /app/client ./client
# The only place Warden writes: DATA_DIR (./data).
RUN mkdir -p /app/data && chown 10001:10001 /app/data && chmod 0700 /app/data
USER 10001:10001
EXPOSE 8000 7777 8888
CMD ["node", "bin/warden.js", "worker"]
