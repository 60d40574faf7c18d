"""Raw gRPC calls through gRPC C-core (python3-grpcio), an independent client for the tests.

Reads a JSON job from stdin: {"address": "host:port", "groups": [{"name", "path", "hex",
"count", "timeout_s"}, ...]}. Starts every call of every group at once on ONE channel (group by
group, in order), waits for all, and prints per group the count of each status code and the
longest status message in bytes.
"""
import collections
import json
import sys

import grpc

job = json.load(sys.stdin)
channel = grpc.insecure_channel(job["address"])
started = []
for g in job["groups"]:
    call = channel.unary_unary(g["path"], request_serializer=None, response_deserializer=None)
    body = bytes.fromhex(g["hex"])
    started.append((g["name"], [call.future(body, timeout=g["timeout_s"]) for _ in range(g["count"])]))
report = {}
for name, futures in started:
    codes = collections.Counter()
    longest = 0
    samples = {}
    for f in futures:
        try:
            f.result()
            code = "OK"
        except grpc.RpcError as e:
            code = e.code().name
            details = e.details() or ""
            longest = max(longest, len(details.encode("utf-8")))
            samples.setdefault(code, details[:200])
        codes[code] += 1
    report[name] = {"codes": dict(codes), "longest_details_bytes": longest, "samples": samples}
channel.close()
print(json.dumps(report))
