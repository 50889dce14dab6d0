# One image for every mock; docker-compose.yml picks the service with its command.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY mocks ./mocks
COPY order_service ./order_service
COPY contracts ./contracts
RUN pip install --no-cache-dir -e .
RUN useradd --system --uid 10001 mock
USER mock
EXPOSE 8000 8100 8101 8102 8103 8104 8105
CMD ["python", "-m", "mocks", "serve", "config-service", "--host", "0.0.0.0"]
