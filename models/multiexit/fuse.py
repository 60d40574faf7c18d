"""Fuse the sequential ONNX stages of an exported model into one graph (the deep path).

The fused graph has the model's input and every exit's logits as outputs (logits_1 ..
logits_K), so a request that must reach the last exit runs one session instead of K, with no
tensors carried between them. Each stage's internal names get a per-stage prefix; the tensors
the manifest names (the input and carried features) keep their names and connect the stages.

    python3 -m multiexit.fuse repository/ranet-fmnist/1            # writes fused.onnx and lists it in manifest.json
"""

import argparse
import json
import os
import sys
from typing import Dict, List

import onnx
from onnx import helper

FUSED_FILE = "fused.onnx"


def _rename_stage(graph: onnx.GraphProto, k: int, keep: set, logits_name: str) -> Dict[str, str]:
    """Renaming of one stage's value names: interface tensors keep theirs, logits -> logits_k."""
    names: Dict[str, str] = {}

    def rename(name: str) -> str:
        if not name:
            return name
        if name == "logits":
            return logits_name
        if name in keep:
            return name
        return names.setdefault(name, f"s{k + 1}/{name}")

    for node in graph.node:
        node.name = f"s{k + 1}/{node.name}" if node.name else ""
        node.input[:] = [rename(n) for n in node.input]
        node.output[:] = [rename(n) for n in node.output]
    for init in graph.initializer:
        init.name = rename(init.name)
    return names


def fuse(model_dir: str) -> Dict:
    """Builds <model_dir>/fused.onnx from the stages and returns its manifest entry."""
    with open(os.path.join(model_dir, "manifest.json")) as f:
        manifest = json.load(f)
    stages = manifest["stages"]
    interface = {manifest["input"]["name"]}
    for st in stages:
        interface.update(st["inputs"])
        interface.update(o for o in st["outputs"] if o != "logits")
    nodes: List[onnx.NodeProto] = []
    inits: List[onnx.TensorProto] = []
    outputs: List[onnx.ValueInfoProto] = []
    first = None
    for k, st in enumerate(stages):
        m = onnx.load(os.path.join(model_dir, st["file"]))
        first = first or m
        _rename_stage(m.graph, k, interface, f"logits_{k + 1}")
        nodes.extend(m.graph.node)
        inits.extend(m.graph.initializer)
        for out in m.graph.output:
            if out.name == "logits":
                out.name = f"logits_{k + 1}"
                outputs.append(out)
    graph_input = [i for i in first.graph.input if i.name == manifest["input"]["name"]]
    graph = helper.make_graph(nodes, f"{manifest['name']}_fused", graph_input, outputs, inits)
    fused = helper.make_model(graph, opset_imports=first.opset_import, producer_name="multiexit.fuse")
    fused.ir_version = first.ir_version
    onnx.checker.check_model(fused)
    onnx.save(fused, os.path.join(model_dir, FUSED_FILE))
    return {"file": FUSED_FILE, "inputs": [manifest["input"]["name"]], "outputs": [o.name for o in outputs]}


def main(argv: List[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir", help="exported model folder (manifest.json and its stage files)")
    args = ap.parse_args(argv)
    entry = fuse(args.model_dir)
    path = os.path.join(args.model_dir, "manifest.json")
    with open(path) as f:
        manifest = json.load(f)
    manifest["fused"] = entry
    with open(path, "w") as f:
        json.dump(manifest, f, indent=2)
    print(
        f"fused {len(manifest['stages'])} stages into {entry['file']} ({len(entry['outputs'])} exits)", file=sys.stderr
    )


if __name__ == "__main__":
    main()
