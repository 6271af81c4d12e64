# The engine's image: one installed `leadledger` command; compose picks the process.
FROM python:3.11-slim
# Unbuffered: a process's last lines (its tally) reach `docker compose logs` even when it
# is stopped; no .pyc files written into a read-only or throwaway layer at run time.
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# Dependencies first, in their own layer: a change to leadledger's code rebuilds in
# seconds instead of reinstalling numpy, psycopg and the rest.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
    && pip install --no-cache-dir -r requirements.txt
COPY README.md ./
COPY leadledger ./leadledger
COPY domain ./domain
COPY projections ./projections
COPY consumers ./consumers
COPY schemas ./schemas
RUN pip install --no-cache-dir --no-deps . && rm -rf /src
# Not root: the engine needs no privilege, and its files in a volume stay the user's.
RUN useradd --create-home --uid 10001 leadledger
USER leadledger
WORKDIR /home/leadledger
ENTRYPOINT ["leadledger", "--verbose"]
