# The engine's image: one installed `leadledger` command; compose picks the process.
FROM python:3.11-slim
WORKDIR /src
COPY pyproject.toml README.md ./
COPY leadledger ./leadledger
COPY domain ./domain
COPY projections ./projections
COPY consumers ./consumers
COPY schemas ./schemas
RUN pip install --no-cache-dir . && rm -rf /src
WORKDIR /
ENTRYPOINT ["leadledger", "--verbose"]
