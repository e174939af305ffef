# judge-monitor: the CLI, flows, worker and exporter in one image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 judge
WORKDIR /app

# The wheel build bundles migrations/ and dashboards/ (see pyproject.toml).
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY flows ./flows
COPY migrations ./migrations
COPY dashboards ./dashboards
RUN pip install .

USER judge
EXPOSE 9108
ENTRYPOINT ["judge-monitor"]
CMD ["--help"]
