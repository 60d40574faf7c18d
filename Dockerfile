# syntax=docker/dockerfile:1
#
# CPU image (default):   docker build -t ranet-serving:0.1.0 .
# CUDA image:            docker build -t ranet-serving:0.1.0-cuda --build-arg VARIANT=cuda .
#   and run it with --execution-providers cuda,cpu (RANET_EXECUTION_PROVIDERS=cuda,cpu); if the
#   CUDA provider cannot load, the server logs why and falls back to the CPU provider.
# These are the tags the manifests in deploy/ run; docs/deploy.md walks from here to a pod answering.
ARG VARIANT=cpu
ARG NODE_IMAGE=node:20-bookworm-slim
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

# ---- build: dependencies and compiled JavaScript ------------------------------------------
FROM ${NODE_IMAGE} AS build
ARG VARIANT
WORKDIR /app
COPY package.json package-lock.json ./
# package.json asks for npm >= 11.16, whose allowScripts keeps onnxruntime-node's install script
# (a download of the CUDA provider) from running; the CPU provider ships inside the package.
# The CUDA variant runs that script on purpose, for the CUDA 12 provider binaries.
RUN npm install -g npm@11.19.1 && npm ci --no-audit --no-fund && \
    if [ "$VARIANT" = "cuda" ]; then ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js; fi
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

# ---- runtime bases -------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS base-cpu

FROM ${CUDA_IMAGE} AS base-cuda
COPY --from=build /usr/local/bin/node /usr/local/bin/node

# ---- runtime -------------------------------------------------------------------------------
FROM base-${VARIANT} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY proto ./proto
COPY models/repository ./models/repository
USER 10001:10001
EXPOSE 50051 8080 9464
ENTRYPOINT ["node", "dist/main.js"]
