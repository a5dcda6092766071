# One image for the exporter, the SMS bridge, the status page and the demo simulator:
#   docker run parichay-exporter run --config /etc/parichay/exporter.yml      (default)
#   docker run --entrypoint parichay-sms-bridge parichay-exporter run --config ...
#   docker run --entrypoint parichay-status parichay-exporter serve --prometheus-url ...
#   docker run parichay-exporter-demo simulate --tls ...                       (demo only)
# The simulator needs the `demo` extra (trustme, a test CA library), which a production
# image leaves out: `--build-arg DEMO=true` adds it (compose's demo profile does).
# Configs and secrets are mounted at run time (see docker-compose.yml); none is baked in.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY exporter ./exporter
COPY simulator ./simulator
COPY smsbridge ./smsbridge
COPY servicekit ./servicekit
COPY statuspage ./statuspage
# The dependency versions the tests ran with (constraints.txt), so two builds are the same.
RUN pip wheel --no-cache-dir --wheel-dir /wheels -c constraints.txt '.[demo]'

FROM python:3.11-slim
ARG UID=10001
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# A fixed non-root uid, so mounted secret files can be made readable by exactly it.
RUN useradd --system --uid "${UID}" --user-group --no-create-home --shell /usr/sbin/nologin parichay \
 && install -d -o parichay -g parichay -m 0750 /var/lib/parichay-exporter /var/lib/parichay-smsbridge \
 && install -d -m 0755 /etc/parichay
# The monthly report's PDF (parichay-status report --format pdf) is printed by Debian's
# chromium through Playwright; fonts-noto-core shapes the Hindi (Devanagari); libatomic1
# is linked by Playwright's own node driver, and neither the slim image nor chromium brings
# it (without it the report dies: "libatomic.so.1: cannot open shared object file"). About
# 400 MB: build with --build-arg REPORT_PDF=false for an image without PDF reports.
ARG REPORT_PDF=true
COPY constraints.txt /tmp/constraints.txt
RUN if [ "${REPORT_PDF}" = true ]; then \
      apt-get update \
      && apt-get install -y --no-install-recommends chromium fonts-noto-core libatomic1 \
      && rm -rf /var/lib/apt/lists/* \
      && pip install -c /tmp/constraints.txt 'playwright>=1.40'; \
    fi \
 && rm /tmp/constraints.txt
ENV PARICHAY_CHROMIUM=/usr/bin/chromium
COPY --from=build /wheels /wheels
ARG DEMO=false
RUN if [ "${DEMO}" = true ]; then extra='[demo]'; else extra=''; fi \
 && pip install --no-index --find-links=/wheels "parichay-exporter${extra}" && rm -rf /wheels
# The alert runbooks, served by `parichay-status serve` at /runbooks/ (every alert's
# runbook_url points there); statuspage/runbooks.py looks for them here by default.
COPY docs/runbooks /usr/share/parichay/runbooks
USER parichay
WORKDIR /var/lib/parichay-exporter
EXPOSE 10071 10072 10073
# The exporter answers /healthz while its scheduler runs; compose overrides this check
# for the SMS bridge (port 10072) and the simulator.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:10071/healthz', timeout=4)"]
ENTRYPOINT ["parichay-exporter"]
CMD ["run", "--config", "/etc/parichay/exporter.yml"]
