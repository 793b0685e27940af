FROM python:3.11-slim
WORKDIR /app
# Locked, hash-checked dependencies first (their own layer), then relink itself without deps.
COPY requirements/build.txt requirements/runtime.txt requirements/
RUN pip install --no-cache-dir --require-hashes -r requirements/build.txt \
 && pip install --no-cache-dir --require-hashes -r requirements/runtime.txt
COPY pyproject.toml README.md alembic.ini ./
COPY api api
COPY worker worker
COPY cli cli
COPY shared shared
COPY sim sim
COPY migrations migrations
RUN pip install --no-cache-dir --no-deps --no-build-isolation -e . \
 && useradd --create-home relink && mkdir -p var && chown relink var
USER relink
EXPOSE 8000
# uvicorn believes X-Forwarded-For from these addresses only (its own default: any loopback
# peer); none unless the deployment names its reverse proxy (compose requires it).
ENV FORWARDED_ALLOW_IPS=""
# Limits: docs/reverse-proxy/README.md; no access log (it would hold relink tokens).
CMD ["uvicorn", "api.app:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000", \
     "--http", "httptools", "--limit-concurrency", "200", "--backlog", "1024", \
     "--timeout-keep-alive", "5", "--no-access-log"]
