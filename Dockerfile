# cvibot serve: one host for many Tavus conversations (docs/deploy.md).
#
#   docker build -t cvibot .
#   docker run --rm -p 8080:8080 -v "$PWD/bot.yaml:/config/bot.yaml:ro" \
#     -e TAVUS_API_KEY -e CVIBOT_API_TOKEN cvibot
#
# Build arguments: PYTHON (the base image's Python), EXTRA_PACKAGES (plugins to install
# beside cvibot, e.g. "cvibot-faq ./plugins/cvibot-http"; paths are relative to the
# build context).

ARG PYTHON=3.12

# -- build: wheels of cvibot[serve] and its dependencies --------------------------------
FROM python:${PYTHON}-slim AS build
ARG EXTRA_PACKAGES=""
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY framework ./framework
COPY plugins ./plugins
RUN pip wheel --wheel-dir /wheels ".[serve]" ${EXTRA_PACKAGES}

# -- run: no compiler, no sources, not root ----------------------------------------------
FROM python:${PYTHON}-slim AS run
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels /wheels/*.whl \
    && useradd --system --uid 10001 --home-dir /app --create-home cvibot
USER 10001
WORKDIR /app
EXPOSE 8080
# cvibot owns SIGTERM: it stops taking conversations, then finishes or hands them over
# within serve.drain_timeout. Give the container at least that long to stop.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8080/livez', timeout=2)"]
ENTRYPOINT ["cvibot", "serve"]
CMD ["/config/bot.yaml", "--host", "0.0.0.0", "--port", "8080"]
