#!/usr/bin/env bash
# GPU readiness in one short run (issue 13, part 6): the worker's compute and end-to-end stages on ONNX Runtime's
# CUDA execution provider, next to the same stages on the CPU, for the bundled and the seed-size model.
#
#   tools/gpu-check.sh prepare [DIR]   on a machine that reaches Maven Central (no GPU needed): builds the product
#                                      and writes DIR (default target/gpu-check) with everything the check needs —
#                                      a Java runtime (jlink), the product's jars with onnxruntime_gpu in place of
#                                      onnxruntime, and the CUDA 12 / cuDNN 9 runtime libraries from Bytedeco's
#                                      redistributable jar on Maven Central. Copy DIR to the GPU machine.
#   DIR/run.sh [SECONDS]               on the GPU machine, which needs nothing but the NVIDIA driver (>= 525):
#                                      prints nvidia-smi's view, then the bench's table for model.device=cuda and
#                                      for cpu; each timed measurement lasts SECONDS (default 5), about 4 minutes
#                                      in all. The JSON reports land in DIR/results/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CMD="${1:-}"

# versions: onnxruntime_gpu from the parent POM (built for CUDA 12 and cuDNN 9); the last complete CUDA 12 + cuDNN 9
# redistributable on Maven Central is Bytedeco's 12.6-9.5-1.5.11 (2 GB; later ones leave cuBLAS and cuDNN out)
CUDA_REDIST="org.bytedeco:cuda:12.6-9.5-1.5.11:jar:linux-x86_64-redist"

prepare() {
  local out="${1:-$ROOT/target/gpu-check}"
  ORT_VERSION="$(sed -n 's:.*<onnxruntime.version>\(.*\)</onnxruntime.version>.*:\1:p' "$ROOT/pom.xml" | head -1)"
  rm -rf "$out"
  mkdir -p "$out/lib" "$out/cuda" "$out/results"
  echo "gpu-check: building the product (CPU build; the GPU runtime is swapped in below) ..." >&2
  (cd "$ROOT" && ./mvnw -q -B -DskipTests -Dmaven.javadoc.skip=true -pl app -am package >&2)
  cp -r "$ROOT/app/target/classes" "$out/classes"
  # the trainer's libtorch is not needed to serve or bench; the CPU ONNX Runtime is replaced by the GPU one
  for jar in "$ROOT"/app/target/lib/*.jar; do
    case "$(basename "$jar")" in
      onnxruntime-[0-9]*|pytorch-native-*|pytorch-jni-*) ;;
      *) cp "$jar" "$out/lib/" ;;
    esac
  done
  echo "gpu-check: fetching onnxruntime_gpu $ORT_VERSION and the CUDA 12 / cuDNN 9 runtime ($CUDA_REDIST) ..." >&2
  (cd "$ROOT" && ./mvnw -q -B dependency:copy -Dartifact="com.microsoft.onnxruntime:onnxruntime_gpu:$ORT_VERSION" \
      -DoutputDirectory="$out/lib" >&2)
  local tmp
  tmp="$(mktemp -d)"
  (cd "$ROOT" && ./mvnw -q -B dependency:copy -Dartifact="$CUDA_REDIST" -DoutputDirectory="$tmp" >&2)
  # only what ONNX Runtime's CUDA provider loads (cuBLAS, the runtime, cuRAND, cuFFT, and cuDNN with the NVRTC it
  # compiles kernels with), flattened so LD_LIBRARY_PATH finds them: 2.9 GB of the redistributable is NPP, nvJPEG,
  # NCCL, cuSOLVER and the like, which it never opens
  local p='org/bytedeco/cuda/linux-x86_64'
  (cd "$tmp" && unzip -q ./*.jar "$p/libcudart.so*" "$p/libcublas*.so*" "$p/libcurand.so*" "$p/libcufft.so*" \
      "$p/libcudnn*.so*" "$p/libnvrtc*.so*" "$p/libnvJitLink.so*" && find org -name '*.so*' -exec mv {} "$out/cuda/" \;)
  rm -rf "$tmp"
  # every library ONNX Runtime's CUDA provider links against must be in cuda/ (or be the driver's, or glibc's)
  tmp="$(mktemp -d)"
  (cd "$tmp" && unzip -q -o "$out"/lib/onnxruntime_gpu-*.jar '*libonnxruntime_providers_cuda.so')
  local missing=0
  for need in $(readelf -d "$(find "$tmp" -name 'libonnxruntime_providers_cuda.so' | head -1)" \
      | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
    case "$need" in
      libcuda.so*|libc.so*|libm.so*|libdl.so*|librt.so*|libpthread.so*|libgcc_s.so*|libstdc++.so*|ld-linux*|libonnxruntime_providers_shared.so) ;;
      *) if [ -e "$out/cuda/$need" ]; then echo "  $need: bundled" >&2; else echo "  $need: MISSING" >&2; missing=1; fi ;;
    esac
  done
  rm -rf "$tmp"
  if [ "$missing" = 1 ]; then
    echo "gpu-check: the CUDA redistributable lacks a library onnxruntime_gpu $ORT_VERSION needs (above)" >&2
    exit 1
  fi
  echo "gpu-check: a Java runtime with jlink ..." >&2
  local jlink="${JAVA_HOME:+$JAVA_HOME/bin/}jlink"
  "$jlink" --add-modules ALL-MODULE-PATH --strip-debug --no-man-pages --no-header-files --output "$out/jre"
  cp "$ROOT/tools/gpu-check.sh" "$out/gpu-check.sh"
  cat > "$out/run.sh" <<'EOF'
#!/usr/bin/env bash
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$DIR/gpu-check.sh" run "$DIR" "$@"
EOF
  chmod +x "$out/run.sh" "$out/gpu-check.sh"
  du -sh "$out" >&2
  echo "gpu-check: ready in $out; copy it to the GPU machine and run $out/run.sh" >&2
}

run() {
  local dir="$1" seconds="${2:-5}"
  export LD_LIBRARY_PATH="$dir/cuda${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  local java="$dir/jre/bin/java"
  command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || \
    echo "gpu-check: nvidia-smi not found; the CUDA run below will say whether a GPU is usable"
  "$java" -version 2>&1 | head -1
  bench() { # $1 = device
    "$java" -Xmx8g -cp "$dir/classes:$dir/lib/*" io.medfuse.app.Medfuse bench --no-progress \
      --only compute,e2e --duration "$seconds" --set "model.device=$1" --out "$dir/results/bench-$1.json"
  }
  echo "=== model.device=cuda ==="
  if ! bench cuda; then
    echo "gpu-check: the CUDA run failed (see above: no GPU, driver older than CUDA 12 needs, or a missing library)"
  fi
  echo "=== model.device=cpu ==="
  bench cpu
  echo "gpu-check: JSON reports in $dir/results/"
}

case "$CMD" in
  prepare) shift; prepare "$@" ;;
  run) shift; run "$@" ;;
  *) sed -n '2,15p' "$0"; exit 2 ;;
esac
