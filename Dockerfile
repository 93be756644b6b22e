# Genesis in a container: the daemon, its hot modules compiled (mypyc), paper trading by
# default. Build and run with PostgreSQL: `docker compose up --build` (compose.yaml).
# Alone, on SQLite in a volume:
#   docker build -t genesis . && docker run --rm -v genesis-data:/data genesis
# Settings come from the environment (GENESIS_*, see .env.example); live trading needs
# GENESIS_LIVE=true and the venue keys, passed as secrets, never baked into the image.
FROM python:3.11-slim AS build
# gcc builds the compiled modules; it stays in this stage only
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/genesis
COPY pyproject.toml README.md ./
COPY genesis ./genesis
COPY config ./config
RUN python -m venv /opt/genesis/.venv \
    && /opt/genesis/.venv/bin/pip install --no-cache-dir -e '.[native]' \
    && /opt/genesis/.venv/bin/python -m genesis native build \
    && /opt/genesis/.venv/bin/python -m genesis native status

FROM python:3.11-slim
RUN useradd --system --create-home --home-dir /home/genesis genesis \
    && mkdir -p /data && chown genesis /data
COPY --from=build /opt/genesis /opt/genesis
WORKDIR /opt/genesis
USER genesis
ENV GENESIS_DATA_DIR=/data \
    OPENBLAS_NUM_THREADS=1 \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
# the control API and dashboard: published only with GENESIS_API_HOST=0.0.0.0 and a token
# of 32+ bytes (the daemon refuses a non-loopback API without one), as compose.yaml does
EXPOSE 8765
# /health answers only with the API token (GENESIS_API_TOKEN); without one the API is off
# and the check passes while the container runs (the process is its own supervisor)
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/opt/genesis/.venv/bin/python", "-m", "genesis", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/opt/genesis/.venv/bin/python", "-m", "genesis"]
CMD ["--tier", "sniper"]
