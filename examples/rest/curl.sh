#!/usr/bin/env bash
# The Open Inference Protocol over REST (KServe v2) with curl: health, metadata, then one image
# classified twice, as base64 in JSON and as raw bytes with Triton's binary tensor data extension.
# Usage: examples/rest/curl.sh [URL] [IMAGE] [MODEL]   (defaults: http://localhost:8080,
# examples/images/ankle-boot.png, ranet-fmnist). A refused request prints the server's
# {"error": ...} body and the script exits non-zero (curl --fail-with-body).
set -euo pipefail
url=${1:-http://localhost:8080}
image=${2:-examples/images/ankle-boot.png}
model=${3:-ranet-fmnist}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 1. Ready? 200 when serving (4xx while starting or draining)
curl -sS --fail-with-body "$url/v2/health/ready" -o /dev/null -w 'ready: HTTP %{http_code}\n'

# 2. What does the model take and answer? (inputs, outputs, datatypes, shapes)
curl -sS --fail-with-body "$url/v2/models/$model"
echo

# 3. JSON: the encoded image as a BYTES element in base64 (parameters.content_type), with a
#    per-request FLOPs cap; --compressed asks for a gzip answer
b64=$(base64 -w0 "$image")
cat > "$work/request.json" <<JSON
{
  "id": "curl-1",
  "parameters": {"flops_budget": 20000000},
  "inputs": [{"name": "image_bytes", "datatype": "BYTES", "shape": [1],
              "parameters": {"content_type": "base64"}, "data": ["$b64"]}],
  "outputs": [{"name": "label"}, {"name": "exit"}, {"name": "flops"}]
}
JSON
curl -sS --fail-with-body --compressed -H 'Content-Type: application/json' \
  --data-binary @"$work/request.json" "$url/v2/models/$model/infer"
echo

# 4. Binary: a JSON header naming binary_data_size, then the BYTES tensor (each element a 4-byte
#    little-endian length, then the file); Inference-Header-Content-Length = the header's length
size=$(stat -c %s "$image")
printf '{"inputs":[{"name":"image_bytes","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":%d}}],"outputs":[{"name":"label"}]}' \
  $((size + 4)) > "$work/header.json"
printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((size & 255)) $((size >> 8 & 255)) $((size >> 16 & 255)) $((size >> 24 & 255)))" > "$work/length.bin"
cat "$work/header.json" "$work/length.bin" "$image" > "$work/body.bin"
curl -sS --fail-with-body -H 'Content-Type: application/octet-stream' \
  -H "Inference-Header-Content-Length: $(stat -c %s "$work/header.json")" \
  --data-binary @"$work/body.bin" "$url/v2/models/$model/infer"
echo
