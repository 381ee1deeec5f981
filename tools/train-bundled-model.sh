#!/usr/bin/env bash
# Regenerates the bundled demo model: the trainer on a synthetic dataset with fixed seeds.
# The demo publishes requests from the same generator (SyntheticDataset), so its predictions mean something.
# Usage: tools/train-bundled-model.sh            (writes worker/src/main/resources/io/medfuse/worker/models/medfuse-demo.onnx)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
OUT="$ROOT/worker/src/main/resources/io/medfuse/worker/models/medfuse-demo.onnx"

"$ROOT/bin/medfuse" synth --out "$WORK/synth" --count 1200 --seed 42
"$ROOT/bin/medfuse" train --images "$WORK/synth/images" --metadata "$WORK/synth/metadata.csv" \
    --label label --numeric age --categorical sex,localization --group lesion_id \
    --architecture small --inputs fused --epochs 20 --seed 42 \
    --name medfuse-demo --model-version 1.0.0-synth \
    --report "$WORK/report" --out "$WORK/medfuse-demo.onnx"
cp "$WORK/medfuse-demo.onnx" "$OUT"
echo "bundled model written to $OUT"
