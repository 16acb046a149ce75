# One image for every shifu-rtsp workload: forwarder, recorder, control (functions-framework), subscriber, export pod.
#   docker build -t registry.example.com/shifu-rtsp:0.1.0 .
# Kubernetes objects pick the command (ENTRYPOINT shifu-rtsp <command>, or functions-framework for Knative).

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the `node` devDependency and ffmpeg-static would download binaries; the base image has Node 24.
RUN npm ci --ignore-scripts --no-fund --no-audit
COPY tsconfig.json ./
COPY functions ./functions
# Called through the base image's node: with --ignore-scripts the `node` package's shim in .bin has no binary.
# bundle.js: the recorder's bundle (dist/functions/lean/), which `shifu-rtsp recorder` runs from.
RUN node node_modules/typescript/bin/tsc -p tsconfig.json && node dist/functions/bundle.js && node node_modules/typescript/bin/tsc -p functions/playback/page/tsconfig.json && node node_modules/typescript/bin/tsc -p functions/live/page/tsconfig.json

FROM node:24-bookworm-slim
# Debian's ffmpeg (ffmpeg + ffprobe; the playback server cuts clips with them); tar, sh and tail come with the base (kubectl cp and functions/export/README.md's kubectl recipe use them in the export pod).
RUN apt-get update \
  && apt-get install -y --no-install-recommends ffmpeg ca-certificates \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production \
    FFMPEG_PATH=/usr/bin/ffmpeg \
    FFPROBE_PATH=/usr/bin/ffprobe \
    PATH=/app/node_modules/.bin:$PATH
COPY package.json package-lock.json ./
# Runtime dependencies only; ffmpeg-static is optional and not wanted here (Debian's ffmpeg is).
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-fund --no-audit && npm cache clean --force
COPY --from=build /app/dist/functions ./dist/functions
RUN chmod 0755 dist/functions/cli.js && ln -s /app/dist/functions/cli.js /usr/local/bin/shifu-rtsp
# The base image's `node` user is uid 1000; numeric, so that runAsNonRoot can verify it.
USER 1000:1000
ENTRYPOINT ["shifu-rtsp"]
CMD ["--help"]
