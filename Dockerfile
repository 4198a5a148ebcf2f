# Steward service image (also runs the simulator). Build: docker build -t steward .
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
# one COPY per package in pyproject's [tool.setuptools.packages.find] (tests/deploy checks it)
COPY steward ./steward
COPY gateway ./gateway
COPY rules ./rules
COPY tickets ./tickets
COPY delivery ./delivery
COPY telemetry ./telemetry
COPY api ./api
COPY simulators ./simulators
RUN pip install --no-cache-dir . \
    && useradd --system --home /app steward \
    && mkdir -p /app/var && chown steward /app/var
USER steward
# /app/var: the embedded telemetry store, or the InfluxDB spool (a volume in docker-compose.yml)
ENV STEWARD_HTTP_HOST=0.0.0.0 STEWARD_HTTP_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status != 200)"
CMD ["steward", "run"]
