package io.medfuse.model.image;

/**
 * Bilinear sampling positions along one axis: output pixel {@code d} reads source pixels {@code i0[d]} and
 * {@code i1[d]} with weights {@code w0[d]} and {@code w1[d]}.
 *
 * <p>Convention: pixel centres are aligned (align-corners = false), as OpenCV's {@code INTER_LINEAR} and PIL's
 * bilinear filter when enlarging: output pixel {@code d} samples source coordinate
 * {@code (d + offset + 0.5) * ratio - 0.5}, clamped to the first and last source pixel (edge replication), with no
 * anti-aliasing when shrinking. When the coordinate is a whole number the weights are exactly 1 and 0, so a source of
 * the target size is copied bit for bit.
 */
final class ResizeAxis {
    final int[] i0;
    final int[] i1;
    final float[] w0;
    final float[] w1;

    private ResizeAxis(int n) {
        i0 = new int[n];
        i1 = new int[n];
        w0 = new float[n];
        w1 = new float[n];
    }

    /**
     * @param srcLen source pixels along the axis, &gt; 0
     * @param dstLen output pixels along the axis, &gt; 0
     * @param ratio source pixels per output pixel (srcLen / dstLen for a stretch)
     * @param offset output pixels skipped at the start of the scaled image (the crop), whole number, &ge; 0
     */
    static ResizeAxis of(int srcLen, int dstLen, double ratio, double offset) {
        ResizeAxis axis = new ResizeAxis(dstLen);
        for (int d = 0; d < dstLen; d++) {
            double f = (d + offset + 0.5) * ratio - 0.5;
            int lo;
            int hi;
            double w;
            if (f <= 0) {
                lo = 0;
                hi = 0;
                w = 0;
            } else {
                lo = (int) Math.floor(f);
                w = f - lo;
                if (lo >= srcLen - 1) {
                    lo = srcLen - 1;
                    hi = lo;
                    w = 0;
                } else {
                    hi = w == 0 ? lo : lo + 1;
                }
            }
            axis.i0[d] = lo;
            axis.i1[d] = hi;
            axis.w1[d] = (float) w;
            axis.w0[d] = (float) (1.0 - w);
        }
        return axis;
    }

    /** Stretch the whole source axis onto the output axis. */
    static ResizeAxis stretch(int srcLen, int dstLen) {
        return of(srcLen, dstLen, (double) srcLen / dstLen, 0);
    }
}
