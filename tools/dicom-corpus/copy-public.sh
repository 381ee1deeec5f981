#!/usr/bin/env bash
# Copies public DICOM sample objects from Debian's python3-pydicom package (pydicom's own test files: Expat licence
# per the package's copyright file; their README says the files were downsized and de-identified, "no restriction on
# using any of these files in this manner") and renders each one with dcmtk (dcmj2pnm), as make-corpus.sh does for
# the objects it makes. The product and CI never run this: its output is committed under
# model/src/test/resources/dicom/public/ (the renderings gzipped: ASCII PNM is large). Needs apt-get download, dpkg -x and dcmtk.
set -euo pipefail
out=${1:-model/src/test/resources/dicom/public}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
(cd "$work" && apt-get download python3-pydicom >/dev/null && dpkg -x python3-pydicom_*.deb pkg)
src=$(find "$work/pkg" -type d -path '*pydicom/data/test_files' | head -1)
version=$(dpkg-deb -f "$work"/python3-pydicom_*.deb Version)
# decoded and compared with dcmtk
decoded=(CT_small MR_small MR_small_padded image_dfl SC_rgb_small_odd SC_rgb_rle SC_rgb_rle_16bit_2frame
  SC_ybr_full_422_uncompressed SC_rgb_jpeg_dcmtk)
# refused with a reason
refused=(ExplVR_BigEnd JPEG2000 MR_small_jpeg_ls_lossless JPGExtended liver_1frame rtdose_rle_1frame rtplan)
for n in "${decoded[@]}" "${refused[@]}"; do cp "$src/$n.dcm" "$out/$n.dcm"; done
for n in "${decoded[@]}"; do
  f="$out/$n.dcm"
  window=()
  if dcmdump +P 0028,1050 "$f" | grep -q WindowCenter; then window=(+Wi 1); fi
  dcmj2pnm +opw "${window[@]}" "$f" "$out/$n.pnm"
  gzip -9 -n -f "$out/$n.pnm"
done
echo "copied from python3-pydicom $version" >&2
ls -l "$out"
