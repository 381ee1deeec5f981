#!/usr/bin/env bash
# Makes the DICOM objects the decoder tests read, with tools from other implementations (Debian's dcmtk 3.6.7 and
# gdcm 3.0.21: apt-get install dcmtk libgdcm-tools), and each object's reference pixels as dcmtk's own 16-bit
# PGM/PPM export (dcmj2pnm). The product and CI never run this: its output is committed under
# model/src/test/resources/dicom/independent/. Rerun it only to add objects; the README there lists each one.
set -euo pipefail
out=${1:-model/src/test/resources/dicom/independent}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
rm -f "$out"/*.dcm "$out"/*.pnm

# raw sample sources: 40x30 pixels, a gradient with a darker disc (deterministic)
python3 - "$work" <<'PY'
import struct, sys, math
w, h = 40, 30
d = sys.argv[1]
def disc(x, y, f=0):
    return math.hypot(x - 14 - 3 * f, y - 12 - 2 * f) < 8
rgb = bytearray()
for y in range(h):
    for x in range(w):
        k = 0.4 if disc(x, y) else 1.0
        rgb += bytes([int((60 + 4 * x) * k), int((40 + 6 * y) * k), int((200 - 3 * x) * k)])
open(f"{d}/rgb8.raw", "wb").write(rgb)
gray = bytes(int((30 + 5 * x + 2 * y) * (0.3 if disc(x, y) else 1.0)) & 0xFF for y in range(h) for x in range(w))
open(f"{d}/gray8.raw", "wb").write(gray)
# 12 bits stored in 16, unsigned (CT-like values 0..4095)
g16 = b"".join(struct.pack("<H", int((400 + 80 * x + 30 * y) * (0.25 if disc(x, y) else 1.0)) & 0x0FFF)
               for y in range(h) for x in range(w))
open(f"{d}/gray12.raw", "wb").write(g16)
# 16-bit signed, CT-like: -1024..+2000
s16 = b"".join(struct.pack("<h", int(-1024 + 70 * x + 20 * y - (600 if disc(x, y) else 0)))
               for y in range(h) for x in range(w))
open(f"{d}/signed16.raw", "wb").write(s16)
# three frames of 8-bit gray, the disc moving
mf = bytes(int((30 + 5 * x + 2 * y) * (0.3 if disc(x, y, f) else 1.0)) & 0xFF
           for f in range(3) for y in range(h) for x in range(w))
open(f"{d}/gray8x3.raw", "wb").write(mf)
# YBR_FULL_422 as stored natively: Y1 Y2 Cb Cr for each pair of pixels (PS3.3 C.7.6.3.1.2)
ybr = bytearray()
for y in range(h):
    for x in range(0, w, 2):
        ybr += bytes([40 + 4 * x, 44 + 4 * x, 100 + 3 * y, 160 - 2 * y])
open(f"{d}/ybr422.raw", "wb").write(ybr)
PY

raw() { # name depth spp pi size [extra gdcmimg options...]
  local name=$1 depth=$2 spp=$3 pi=$4 size=$5; shift 5
  gdcmimg -i "$work/$name.raw" -o "$work/$name.native.dcm" --depth "$depth" --spp "$spp" --pi "$pi" \
    --size "$size" "$@"
}
raw rgb8 8 3 RGB 40,30
raw gray8 8 1 MONOCHROME2 40,30
raw gray12 16 1 MONOCHROME2 40,30 --pf 16,12,11
raw signed16 16 1 MONOCHROME2 40,30 --sign 1
raw gray8x3 8 1 MONOCHROME2 40,30,3

# gdcmimg writes Explicit VR Little Endian; dcmtk converts, compresses and edits from there
cp "$work/rgb8.native.dcm" "$out/rgb8-explicit.dcm"
dcmconv +ti "$work/rgb8.native.dcm" "$out/rgb8-implicit.dcm"
dcmconv +td "$work/rgb8.native.dcm" "$out/rgb8-deflated.dcm"
gdcmconv --raw --planar-configuration 1 "$work/rgb8.native.dcm" "$out/rgb8-planar1.dcm"
dcmcrle "$work/rgb8.native.dcm" "$out/rgb8-rle.dcm"
dcmcjpeg +eb "$work/rgb8.native.dcm" "$out/rgb8-jpeg-baseline.dcm"
# dcmdjpeg without colour conversion leaves the decoded frame in YBR_FULL
dcmdjpeg +cn "$out/rgb8-jpeg-baseline.dcm" "$out/ybr-full-native.dcm"
raw ybr422 8 3 YBR_FULL_422 40,30
cp "$work/ybr422.native.dcm" "$out/ybr-full-422-native.dcm"
cp "$work/gray8.native.dcm" "$out/gray8-explicit.dcm"
dcmconv +ti "$work/gray8.native.dcm" "$out/gray8-implicit.dcm"
dcmcjpeg +eb "$work/gray8.native.dcm" "$out/gray8-jpeg-baseline.dcm"
dcmcjpeg +ee "$work/gray8.native.dcm" "$out/gray8-jpeg-extended.dcm"
cp "$work/gray12.native.dcm" "$out/gray12-explicit.dcm"
dcmcrle "$work/gray12.native.dcm" "$out/gray12-rle.dcm"
cp "$work/gray12.native.dcm" "$out/gray12-window.dcm"
dcmodify -nb -i "(0028,1050)=1500" -i "(0028,1051)=2000" "$out/gray12-window.dcm"
cp "$work/gray12.native.dcm" "$out/gray12-monochrome1.dcm"
dcmodify -nb -m "(0028,0004)=MONOCHROME1" "$out/gray12-monochrome1.dcm"
cp "$work/signed16.native.dcm" "$out/signed16-rescale-window.dcm"
dcmodify -nb -i "(0028,1052)=-1024" -i "(0028,1053)=1" -i "(0028,1050)=40" -i "(0028,1051)=400" \
  "$out/signed16-rescale-window.dcm"
cp "$work/gray8x3.native.dcm" "$out/gray8-3frames.dcm"
dcmcrle "$work/gray8x3.native.dcm" "$out/gray8-3frames-rle.dcm"
# patient tags (synthetic values): feature sources read them when a request leaves patient fields empty
cp "$work/rgb8.native.dcm" "$out/rgb8-tags.dcm"
dcmodify -nb -i "(0010,0010)=Doe^Jane" -i "(0010,0020)=MRN-4711-0815" -i "(0010,1010)=045Y" -i "(0010,0040)=F" \
  -i "(0018,0015)=BACK" "$out/rgb8-tags.dcm"
cp "$work/rgb8.native.dcm" "$out/rgb8-tags-birthdate.dcm"
dcmodify -nb -i "(0010,0030)=19580317" -i "(0008,0020)=20260317" -i "(0010,0040)=M" "$out/rgb8-tags-birthdate.dcm"
cp "$work/rgb8.native.dcm" "$out/rgb8-tags-invalid.dcm"
dcmodify -nb -i "(0010,1010)=45" -i "(0010,0040)=X" "$out/rgb8-tags-invalid.dcm"
# syntaxes medfuse refuses, by name
dcmconv +tb "$work/gray8.native.dcm" "$out/unsupported-big-endian.dcm"
dcmcjpeg +el "$work/gray8.native.dcm" "$out/unsupported-jpeg-lossless.dcm"
gdcmconv --j2k "$work/gray8.native.dcm" "$out/unsupported-jpeg2000.dcm"
gdcmconv --jpegls "$work/gray8.native.dcm" "$out/unsupported-jpegls.dcm"

# reference pixels: dcmtk's own rendering, 16-bit PNM, first window where the object has one
for f in "$out"/*.dcm; do
  case $(basename "$f") in unsupported-*) continue ;; esac
  window=()
  if dcmdump +P 0028,1050 "$f" | grep -q WindowCenter; then window=(+Wi 1); fi
  frame=()
  case $(basename "$f") in *3frames*) frame=(+F 2) ;; esac
  dcmj2pnm +opw "${window[@]}" "${frame[@]}" "$f" "${f%.dcm}.pnm"
done
ls -l "$out"
