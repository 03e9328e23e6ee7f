# Production image. Not buildable on the development machines (no Docker engine there).
FROM python:3.11-slim-bookworm

# The strategy sandbox confines itself (as uid 1000 here: user namespaces, Landlock,
# seccomp; docker-compose.yml lets the workers make them); bubblewrap is its extra layer.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DEBUG=0 SANDBOX_BACKEND=warm-bwrap
RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap libpq5 \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 1000 app
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# Static files are collected with throwaway secrets: nothing here reads them.
RUN SECRET_KEY=build JWT_SIGNING_KEY=build \
    BROKER_PUBLIC_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    python manage.py collectstatic --noinput
USER app
EXPOSE 8000
CMD ["gunicorn", "tradeplatform.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
