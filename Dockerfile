# One image for every role: `recording-operator api`, `recording-operator run` (the operator)
# and `recording-operator record` (recorder pods).
#
#   docker build -t recording-operator:0.1.0 .
#
# The base is a build argument so a locally made Python image can stand in for the official
# one (e.g. a Debian rootfs with python3 and python3-venv, `docker import`ed):
#
#   docker build --build-arg PYTHON_IMAGE=local/python:3.11 -t recording-operator:dev .
#
# The base image is pinned by digest through PYTHON_DIGEST: FROM becomes
# ${PYTHON_IMAGE}@${PYTHON_DIGEST}, so a rebuild gets the very same base until the digest is
# changed on purpose. Set it here (or with --build-arg) to the digest of the linux/amd64+arm64
# index of python:3.11-slim-bookworm, from
#   docker buildx imagetools inspect python:3.11-slim-bookworm   (the "Digest:" line)
# It is empty in this repository only because no container registry can be reached where it
# is developed, so no digest could be read and checked; an unchecked one would break builds.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG PYTHON_DIGEST=

# --- build: a virtualenv with the package and its dependencies, all from wheels ------------
FROM ${PYTHON_IMAGE}${PYTHON_DIGEST:+@}${PYTHON_DIGEST} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python3 -m venv /opt/recording-operator \
 && /opt/recording-operator/bin/pip install --upgrade pip
WORKDIR /src
COPY requirements.lock ./
# The dependencies exactly as locked, each file checked against its hash (requirements.lock,
# made by `make lock`), in a layer of their own before the code: a code change rebuilds only
# the small layers below it (builders with a layer cache reuse this one). PyAV comes as its
# manylinux wheel, which bundles FFmpeg's libraries: nothing is compiled and no FFmpeg or
# compiler is needed in either stage.
RUN /opt/recording-operator/bin/pip install --require-hashes --only-binary=av \
      --requirement requirements.lock
# Then our own wheel, without resolving anything again.
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN /opt/recording-operator/bin/pip wheel --no-deps --wheel-dir /wheels . \
 && /opt/recording-operator/bin/pip install --no-deps /wheels/*.whl \
 && /opt/recording-operator/bin/pip uninstall --yes pip \
 && /opt/recording-operator/bin/recording-operator record --help > /dev/null

# --- final: the virtualenv on a clean base, as a non-root user -------------------------------
FROM ${PYTHON_IMAGE}${PYTHON_DIGEST:+@}${PYTHON_DIGEST}
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="recording-operator" \
      org.opencontainers.image.description="Live-stream recording run by Kubernetes: OvenMediaEngine-compatible recording API, kopf operator and recorder" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="recording-operator"
# srt:// sources are read through the ffmpeg program (PyAV's FFmpeg has no SRT); Debian's has
# libsrt. --build-arg WITH_FFMPEG=0 leaves it out for a smaller image without SRT sources.
ARG WITH_FFMPEG=1
RUN if [ "${WITH_FFMPEG}" = "1" ]; then \
      apt-get update \
      && apt-get install --yes --no-install-recommends ffmpeg \
      && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*; \
    fi
# uid/gid 10001: the chart's podSecurityContext and the recorder pods' runAsUser (config
# recorder.runAsUser) run as this user.
RUN groupadd --system --gid 10001 recorder \
 && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home \
      --shell /usr/sbin/nologin recorder
COPY --from=build /opt/recording-operator /opt/recording-operator
# The root filesystem is read-only in the pods: no bytecode writes, HOME on the /tmp emptyDir.
ENV PATH=/opt/recording-operator/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
WORKDIR /tmp
USER 10001:10001
# 8081 the API, 8080 the operator's /healthz, 9090 its /metrics.
EXPOSE 8081 8080 9090
ENTRYPOINT ["recording-operator"]
CMD ["--help"]
