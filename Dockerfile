# pg-logplexcollector in a container. README.md "Deploying" says how to run it:
#   docker build -t pg-logplexcollector .
#   docker run -d --name plc --stop-timeout 30 -p 127.0.0.1:9187:9187 \
#     -v plc-serves:/var/lib/pg-logplexcollector -v plc-spool:/var/spool/pg-logplexcollector \
#     -v plc-sockets:/run/pg-logplexcollector \
#     -e LOGPLEX_URL=https://logplex.example.com/logs pg-logplexcollector
# PostgreSQL's container mounts the same socket volume and points logfebe.unix_socket into it.
# Every flag is also an environment variable (PG_LOGPLEXCOLLECTOR_*, `--help` lists them).

# Build stage: `npm ci` with dev dependencies (TypeScript), then the build. --ignore-scripts
# first so that the dependency layer does not depend on the sources; `prepare` is the build.
# Node 24: the current LTS line, one of package.json's "engines" (20, 22, 24, 26).
FROM node:24-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Run stage: production dependencies only, the compiled dist/ from the build stage.
FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would run the TypeScript build, which needs the dev dependencies
# this stage leaves out; dist/ comes from the build stage instead.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY bin ./bin
COPY LICENSE README.md ./

# The serve database, the spool and the socket directory: volumes, owned by the image's non-root
# user `node` (uid 1000). Sockets are created connectable by any uid (PostgreSQL's in its own
# container); their directory is searchable by all for the same reason. The spool holds tokens:
# the daemon keeps it 0700.
ENV SERVE_DB_DIR=/var/lib/pg-logplexcollector \
    PG_LOGPLEXCOLLECTOR_SPOOL_DIR=/var/spool/pg-logplexcollector
RUN mkdir -p /var/lib/pg-logplexcollector /var/spool/pg-logplexcollector /run/pg-logplexcollector \
 && chown node:node /var/lib/pg-logplexcollector /var/spool/pg-logplexcollector /run/pg-logplexcollector \
 && chmod 0750 /var/lib/pg-logplexcollector \
 && chmod 0700 /var/spool/pg-logplexcollector \
 && chmod 0755 /run/pg-logplexcollector
VOLUME ["/var/lib/pg-logplexcollector", "/var/spool/pg-logplexcollector", "/run/pg-logplexcollector"]
USER node

# Metrics and health on every interface of the container (its own network namespace): 127.0.0.1
# there is unreachable from the host or a Prometheus container. Publish the port to where it
# should be seen (-p 127.0.0.1:9187:9187), or set the variable to 127.0.0.1:9187 to keep it in.
ENV PG_LOGPLEXCOLLECTOR_METRICS_LISTEN=0.0.0.0:9187
EXPOSE 9187
# /healthz: 200 while the daemon runs its pipeline. The image has no curl: node asks, on the port
# the variable names.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const p=(process.env.PG_LOGPLEXCOLLECTOR_METRICS_LISTEN||'').split(':').pop();require('node:http').get({host:'127.0.0.1',port:p,path:'/healthz',timeout:4000},(r)=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1)).on('timeout',()=>process.exit(1))"]

# SIGTERM (docker stop): stop listening, deliver what was read, exit 0. The daemon is PID 1
# itself (exec form, no npm or shell in between, README "Running it for real"), so the exit
# status docker reports is the daemon's. Docker's default stop timeout is 10 s: the daemon gives
# up delivering at 8 s unless told otherwise (a later --shutdown-timeout wins; then run with a
# --stop-timeout above it).
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/pg-logplexcollector.js", "--shutdown-timeout", "8s"]
CMD []
