# The Updraft image: every role (scheduler, worker, web) runs from it; the command picks
# one, e.g. `docker run updraft worker --concurrency 4`. Updraft runs its TypeScript
# sources through tsx (bin/updraft.mjs), so there is no build step: the image holds the
# sources and their runtime dependencies (tsx is one of them).
FROM node:20-bookworm-slim

WORKDIR /opt/updraft
ENV NODE_ENV=production

# Dependencies first: this layer is rebuilt only when package.json or the lock file changes.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY . .

# DAG files live in dags/ beside the sources, so that a DAG file's own imports of npm
# packages resolve from /opt/updraft/node_modules; mount your DAGs folder over it.
# UPDRAFT_HOME is only used without DATABASE_URL (`standalone` on the embedded database):
# a folder the non-root user may write.
ENV UPDRAFT_DAGS_FOLDER=/opt/updraft/dags \
    UPDRAFT_HOME=/var/lib/updraft
RUN mkdir -p /var/lib/updraft && chown node:node /var/lib/updraft

# The node image's unprivileged user. Updraft handles SIGTERM itself (it drains running
# tasks for UPDRAFT_SHUTDOWN_GRACE), even as PID 1.
USER node
ENTRYPOINT ["node", "bin/updraft.mjs"]
CMD ["--help"]
