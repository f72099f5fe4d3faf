# pg-logplexcollector in a container. README.md "Deploying" says how to run it:
#   docker build -t pg-logplexcollector .
#   docker run -d --name plc --stop-timeout 30 \
#     -v plc-serves:/var/lib/pg-logplexcollector -v plc-sockets:/run/pg-logplexcollector \
#     -e LOGPLEX_URL=https://logplex.example.com/logs pg-logplexcollector
# PostgreSQL's container mounts the same socket volume and points logfebe.unix_socket into it.

# Build stage: `npm ci` with dev dependencies (TypeScript), then the build. --ignore-scripts
# first so that the dependency layer does not depend on the sources; `prepare` is the build.
FROM node:20-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Run stage: production dependencies only, the compiled dist/ from the build stage.
FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would run the TypeScript build, which needs the dev dependencies
# this stage leaves out; dist/ comes from the build stage instead.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY bin ./bin
COPY LICENSE README.md ./

# The serve database and the socket directory: volumes, owned by the image's non-root user
# `node` (uid 1000). Sockets are created connectable by any uid (PostgreSQL's in its own
# container); the directory is searchable by all for the same reason.
ENV SERVE_DB_DIR=/var/lib/pg-logplexcollector
RUN mkdir -p /var/lib/pg-logplexcollector /run/pg-logplexcollector \
 && chown node:node /var/lib/pg-logplexcollector /run/pg-logplexcollector \
 && chmod 0750 /var/lib/pg-logplexcollector \
 && chmod 0755 /run/pg-logplexcollector
VOLUME ["/var/lib/pg-logplexcollector", "/run/pg-logplexcollector"]
USER node

# SIGTERM (docker stop): stop listening, deliver what was read, exit 0. The daemon is PID 1
# itself (exec form, no npm or shell in between, README "Running it for real"), so the exit
# status docker reports is the daemon's. Docker's default stop timeout is 10 s: the daemon gives
# up delivering at 8 s unless told otherwise (a later --shutdown-timeout wins; then run with a
# --stop-timeout above it).
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/pg-logplexcollector.js", "--shutdown-timeout", "8s"]
CMD []
