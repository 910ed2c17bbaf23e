# One image for every service; docker-compose.yml picks the command.
FROM python:3.11-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY libs ./libs
COPY services ./services
COPY devtools ./devtools
RUN pip install --no-cache-dir .
ENTRYPOINT ["payments"]
