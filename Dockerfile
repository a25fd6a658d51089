# ocpp-chaos in a container: `docker build -t ocpp-chaos .`,
# then e.g. `docker run --rm -p 9000:9000 ocpp-chaos proxy --listen 0.0.0.0:9000 --upstream ws://csms:8180/ocpp --headless`.
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE.md ./
COPY ocpp_chaos ./ocpp_chaos
RUN pip wheel --no-cache-dir --wheel-dir /wheels '.[fast]'

FROM python:3.12-slim
RUN useradd --create-home --uid 10001 chaos
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER chaos
WORKDIR /home/chaos
EXPOSE 9000
ENTRYPOINT ["ocpp-chaos"]
CMD ["demo", "--headless"]
