# latentspace API: CPU-only torch, migrations applied on start (`latentspace serve` runs them).
FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false \
    LATENTSPACE_DATA_DIR=/data LATENTSPACE_HOST=0.0.0.0 LATENTSPACE_PORT=8000
WORKDIR /app
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md alembic.ini ./
COPY alembic ./alembic
COPY core ./core
COPY store ./store
COPY ingest ./ingest
COPY index ./index
COPY api ./api
COPY eval ./eval
COPY latent ./latent
COPY services ./services
COPY cli ./cli
COPY bench ./bench
# "[cluster]" adds Ray for the compose profile `cluster` (issue 13, docs/SCALING.md)
ARG LATENTSPACE_EXTRAS=""
RUN pip install --no-cache-dir ".${LATENTSPACE_EXTRAS}" && useradd --uid 10001 --create-home latentspace \
    && mkdir -p /data && chown latentspace /data
USER latentspace
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --retries=5 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/ready')"
CMD ["latentspace", "serve"]
