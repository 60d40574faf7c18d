#!/usr/bin/env bash
# Classify a shipped image with grpcurl (https://github.com/fullstorydev/grpcurl): server
# reflection is on, so no proto files are needed. Usage: examples/grpcurl.sh [HOST:PORT] [IMAGE]
set -euo pipefail
address=${1:-localhost:50051}
image=${2:-examples/images/ankle-boot.png}
b64=$(base64 -w0 "$image")

# ranet.v1: the encoded image as bytes (base64 in JSON)
grpcurl -plaintext -d "{\"image\": \"$b64\"}" "$address" ranet.v1.Classifier/Classify

# Open Inference Protocol: the same image as a BYTES input, asking for the label
grpcurl -plaintext -d "{
  \"model_name\": \"ranet-fmnist\",
  \"inputs\": [{\"name\": \"image_bytes\", \"datatype\": \"BYTES\", \"shape\": [1], \"contents\": {\"bytes_contents\": [\"$b64\"]}}],
  \"outputs\": [{\"name\": \"label\"}]
}" "$address" inference.GRPCInferenceService/ModelInfer
