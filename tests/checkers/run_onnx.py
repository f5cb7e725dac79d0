"""Checks ONNX models exported by hourglass against the library's own CPU forward pass.

usage: run_onnx.py CASES.txt [--tolerance 1e-4] [--expect-opset N] [--expect-batch dynamic|N]

CASES.txt (written by faceswap_onnx_cases) has one line per run:
    MODEL.onnx INPUT.npy EXPECTED_SWAPPED.npy [EXPECTED_MASK.npy]
For every model: onnx.checker.check_model(full_check=True) accepts it (shape inference included)
and its opset and first input dimension are the expected ones. For every run: onnxruntime (CPU)
runs the model on the input and each output's largest absolute difference from the expected
array is at most the tolerance. Prints one line per run with the differences; exits 1 on the first
failure.
"""
import argparse
import sys

import numpy as np
import onnx
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cases")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--expect-opset", type=int)
    ap.add_argument("--expect-batch")
    args = ap.parse_args()

    runs = [line.split() for line in open(args.cases) if line.strip()]
    if not runs:
        sys.exit(f"{args.cases}: no runs listed")
    sessions = {}
    for run in runs:
        path, input_path, expected = run[0], run[1], run[2:]
        if path not in sessions:
            model = onnx.load(path)
            onnx.checker.check_model(model, full_check=True)
            opset = {o.domain: o.version for o in model.opset_import}[""]
            if args.expect_opset is not None and opset != args.expect_opset:
                sys.exit(f"{path}: opset {opset}, expected {args.expect_opset}")
            first = model.graph.input[0].type.tensor_type.shape.dim[0]
            batch = first.dim_param if first.HasField("dim_param") else str(first.dim_value)
            want = {"dynamic": "batch"}.get(args.expect_batch, args.expect_batch)
            if want is not None and batch != want:
                sys.exit(f"{path}: first input dimension '{batch}', expected '{want}'")
            print(f"{path}: onnx.checker accepts it (IR {model.ir_version}, opset {opset}, "
                  f"{len(model.graph.node)} nodes, {len(model.graph.initializer)} initializers, batch '{batch}')")
            sessions[path] = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        session = sessions[path]
        x = np.load(input_path)
        names = [o.name for o in session.get_outputs()]
        if len(names) != len(expected):
            sys.exit(f"{path}: {len(names)} outputs {names}, expected {len(expected)}")
        outputs = session.run(None, {session.get_inputs()[0].name: x})
        for name, got, want_path in zip(names, outputs, expected):
            want = np.load(want_path)
            if got.shape != want.shape:
                sys.exit(f"{path} on {input_path}: output '{name}' has shape {got.shape}, expected {want.shape}")
            diff = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
            print(f"  {input_path} {x.shape}: '{name}' max |onnxruntime - hourglass| = {diff:.3g} "
                  f"(values in [{float(want.min()):.3f}, {float(want.max()):.3f}])")
            if not diff <= args.tolerance:
                sys.exit(f"FAILED: {path} output '{name}' differs by {diff:.3g} > {args.tolerance:g}")
    print("ok")


if __name__ == "__main__":
    main()
