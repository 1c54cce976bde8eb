# Pensieve on the official Deno image (Debian; tini as PID 1, which hands signals on).
#   docker build -t pensieve .
#   docker run -p 8000:8000 -v pensieve-data:/app/data pensieve
# The container runs `deno task serve`, the command tests/server/serve_task_test.ts runs: it
# computes the narrowest Deno permissions for the settings it is given (cli/serve_permissions.ts).
FROM denoland/deno:2.9.6

WORKDIR /app

# Dependencies first, in their own layer: rebuilt only when deno.json or deno.lock change.
COPY deno.json deno.lock ./
RUN deno install --frozen

# The code, the page bundle, and every module the container runs, compiled into the cache now so
# that starting never fetches anything (the tasks run with --cached-only).
COPY . .
RUN deno task build \
  && deno cache --frozen main.ts cli/*.ts \
  && mkdir -p /app/data \
  && chown deno:deno /app/data

# The code and the module cache stay root's, read-only to the server; only /app/data is writable.
USER deno

ENV HOST=0.0.0.0 \
  PORT=8000 \
  PENSIEVE_DB=sqlite:/app/data/pensieve.db \
  PENSIEVE_DATA_DIR=/app/data \
  DENO_NO_UPDATE_CHECK=1 \
  DENO_NO_PROMPT=1

VOLUME /app/data
EXPOSE 8000

# No curl in the image: a tiny Deno fetch of /healthz on PORT (cli/healthcheck.ts).
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
  CMD ["deno", "task", "--quiet", "healthcheck"]

CMD ["deno", "task", "serve"]
