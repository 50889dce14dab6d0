# One image for every mock; docker-compose.yml picks the service with its command.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY harness ./harness
COPY mocks ./mocks
COPY order_service ./order_service
COPY contracts ./contracts
COPY pacts ./pacts
# a real install, not -e: the image runs what a wheel carries (contracts, pacts, dev keys as package data)
RUN pip install --no-cache-dir . && rm -rf /app/build
RUN useradd --system --uid 10001 mock
USER mock
EXPOSE 8000 8100 8101 8102 8103 8104 8105 8106
CMD ["python", "-m", "mocks", "serve", "config-service", "--host", "0.0.0.0"]
