package io.medfuse.model.image;

import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.ComponentColorModel;
import java.awt.image.ComponentSampleModel;
import java.awt.image.DataBuffer;
import java.awt.image.DataBufferByte;
import java.awt.image.DataBufferInt;
import java.awt.image.DataBufferUShort;
import java.awt.image.DirectColorModel;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.awt.image.SinglePixelPackedSampleModel;

/**
 * Reads a decoded image one row at a time as floats in [0,1], already converted to the working channels: 1 (gray,
 * or luminance when the model wants one channel) or 3 (R, G, B).
 *
 * <p>The common layouts ImageIO produces for PNG and JPEG (interleaved or banded 8/16-bit components in sRGB or gray,
 * packed int RGB, palettes) are read straight from the raster's arrays: {@code BufferedImage.getRGB} costs a colour
 * model call per pixel and, for gray images, applies a gamma conversion that would change the stored values. Any
 * other layout falls back to {@code getRGB}, one row at a time.
 *
 * <p>Alpha is ignored: colour samples are used as stored, not composited over a background. Not thread-safe; one per
 * decoded image.
 */
abstract class PixelRows {
    static final float LUMA_R = 0.299f;
    static final float LUMA_G = 0.587f;
    static final float LUMA_B = 0.114f;

    private static final float[] UNIT_8 = unitTable(8);
    private static final float[] UNIT_16 = unitTable(16);

    final int width;
    final int height;
    /** Working channels written by {@link #readRow}: 1 or 3. */
    final int channels;

    private PixelRows(int width, int height, int channels) {
        this.width = width;
        this.height = height;
        this.channels = channels;
    }

    /** Writes row {@code y} (0-based) into {@code dst[0..channels-1][0..width-1]}. */
    abstract void readRow(int y, float[][] dst);

    /**
     * Whether {@link #writeNormalisedRow} can write a tensor of {@code targetChannels} from this image: 8-bit samples
     * whose working channels are the tensor's (RGB to 3 channels, gray to 1), read without any conversion.
     */
    boolean writesNormalised8(int targetChannels) {
        return false;
    }

    /**
     * Writes row {@code y} of every channel {@code c} through {@code tables[c]} (indexed by the 8-bit sample) into
     * {@code dst[at + c * plane ...]}: the tensor row, with no intermediate row. Only where
     * {@link #writesNormalised8} says so.
     */
    void writeNormalisedRow(int y, float[][] tables, float[] dst, int at, int plane) {
        throw new UnsupportedOperationException("no 8-bit samples to write directly");
    }

    /**
     * Rows of already decoded samples in [0,1]: one plane (gray) or three (R, G, B), each {@code width × height}
     * row-major. With {@code targetChannels} 1, three planes are read as luminance.
     */
    static PixelRows ofPlanes(int width, int height, float[][] planes, int targetChannels) {
        return new PlaneRows(width, height, planes, targetChannels == 1);
    }

    private static final class PlaneRows extends PixelRows {
        private final float[][] planes;
        private final boolean luminance;

        PlaneRows(int width, int height, float[][] planes, boolean luminance) {
            super(width, height, planes.length == 1 || luminance ? 1 : 3);
            this.planes = planes;
            this.luminance = luminance && planes.length == 3;
        }

        @Override
        void readRow(int y, float[][] dst) {
            int base = y * width;
            if (luminance) {
                float[] r = planes[0];
                float[] g = planes[1];
                float[] b = planes[2];
                float[] out = dst[0];
                for (int x = 0; x < width; x++) {
                    out[x] = LUMA_R * r[base + x] + LUMA_G * g[base + x] + LUMA_B * b[base + x];
                }
                return;
            }
            for (int c = 0; c < channels; c++) {
                System.arraycopy(planes[c], base, dst[c], 0, width);
            }
        }
    }

    /**
     * @param targetChannels 1 for luminance/gray, 3 for RGB
     */
    static PixelRows of(BufferedImage image, int targetChannels) {
        ColorModel cm = image.getColorModel();
        Raster raster = image.getRaster();
        boolean luminance = targetChannels == 1;
        if (cm instanceof ComponentColorModel && raster.getSampleModel() instanceof ComponentSampleModel
                && !cm.isAlphaPremultiplied()) {
            int nc = colourComponents(cm.getColorSpace());
            int type = raster.getDataBuffer().getDataType();
            if (nc > 0 && (type == DataBuffer.TYPE_BYTE || type == DataBuffer.TYPE_USHORT)
                    && fullDepth(cm, nc, DataBuffer.getDataTypeSize(type))) {
                return new ComponentRows(image, nc, luminance);
            }
        }
        if (cm instanceof DirectColorModel dcm && raster.getSampleModel() instanceof SinglePixelPackedSampleModel
                && raster.getDataBuffer() instanceof DataBufferInt && dcm.getColorSpace().isCS_sRGB()
                && !dcm.isAlphaPremultiplied() && narrowMasks(dcm)) {
            return new PackedIntRows(image, dcm, luminance);
        }
        if (cm instanceof IndexColorModel icm) {
            return new IndexedRows(image, icm, luminance);
        }
        return new RgbRows(image, luminance);
    }

    /** Whether every colour component fills its data element, so the 8- and 16-bit tables cover every sample. */
    private static boolean fullDepth(ColorModel cm, int colours, int elementBits) {
        for (int c = 0; c < colours; c++) {
            if (cm.getComponentSize(c) != elementBits) {
                return false;
            }
        }
        return true;
    }

    private static boolean narrowMasks(DirectColorModel cm) {
        for (int mask : new int[] {cm.getRedMask(), cm.getGreenMask(), cm.getBlueMask()}) {
            int bits = Integer.bitCount(mask);
            if (bits == 0 || bits > 16) {
                return false;
            }
        }
        return true;
    }

    /** 3 for sRGB, 1 for any gray space (stored gray values are used as they are), 0 for anything else. */
    private static int colourComponents(ColorSpace cs) {
        if (cs.isCS_sRGB()) {
            return 3;
        }
        if (cs.getType() == ColorSpace.TYPE_GRAY && cs.getNumComponents() == 1) {
            return 1;
        }
        return 0;
    }

    private static float[] unitTable(int bits) {
        int max = (1 << bits) - 1;
        float[] table = new float[max + 1];
        for (int i = 0; i <= max; i++) {
            table[i] = i / (float) max;
        }
        return table;
    }

    static float[] unitTableFor(int bits) {
        return switch (bits) {
            case 8 -> UNIT_8;
            case 16 -> UNIT_16;
            default -> unitTable(bits);
        };
    }

    /** 8- or 16-bit components, interleaved (TYPE_3BYTE_BGR, TYPE_BYTE_GRAY, TYPE_4BYTE_ABGR, PNG 16-bit) or banded. */
    private static final class ComponentRows extends PixelRows {
        private final byte[][] bytes;
        private final short[][] shorts;
        private final int[] bankOffset;
        private final int[] bandOffset;
        private final int pixelStride;
        private final int scanlineStride;
        private final int originX;
        private final int originY;
        private final int colours;
        private final float[][] unit;

        ComponentRows(BufferedImage image, int colours, boolean luminance) {
            super(image.getWidth(), image.getHeight(), luminance || colours == 1 ? 1 : 3);
            Raster raster = image.getRaster();
            ComponentSampleModel sm = (ComponentSampleModel) raster.getSampleModel();
            DataBuffer db = raster.getDataBuffer();
            this.colours = colours;
            int[] banks = sm.getBankIndices();
            int[] offsets = sm.getBandOffsets();
            int[] dbOffsets = db.getOffsets();
            bankOffset = new int[colours];
            bandOffset = new int[colours];
            unit = new float[colours][];
            if (db instanceof DataBufferByte b) {
                byte[][] all = b.getBankData();
                bytes = new byte[colours][];
                shorts = null;
                for (int c = 0; c < colours; c++) {
                    bytes[c] = all[banks[c]];
                }
            } else {
                short[][] all = ((DataBufferUShort) db).getBankData();
                shorts = new short[colours][];
                bytes = null;
                for (int c = 0; c < colours; c++) {
                    shorts[c] = all[banks[c]];
                }
            }
            for (int c = 0; c < colours; c++) {
                bankOffset[c] = dbOffsets[banks[c]];
                bandOffset[c] = offsets[c];
                unit[c] = unitTableFor(DataBuffer.getDataTypeSize(db.getDataType()));
            }
            pixelStride = sm.getPixelStride();
            scanlineStride = sm.getScanlineStride();
            originX = raster.getMinX() - raster.getSampleModelTranslateX();
            originY = raster.getMinY() - raster.getSampleModelTranslateY();
        }

        private int sample(int c, int index) {
            return bytes != null ? bytes[c][index] & 0xFF : shorts[c][index] & 0xFFFF;
        }

        @Override
        boolean writesNormalised8(int targetChannels) {
            return bytes != null && colours == channels && channels == targetChannels;
        }

        @Override
        void writeNormalisedRow(int y, float[][] tables, float[] dst, int at, int plane) {
            int row = (originY + y) * scanlineStride + originX * pixelStride;
            for (int c = 0; c < colours; c++) {
                byte[] data = bytes[c];
                float[] table = tables[c];
                int i = bankOffset[c] + bandOffset[c] + row;
                int o = at + c * plane;
                if (pixelStride == 1) {
                    // planes (the native decoder's colour images): a loop the JIT compiles far better
                    for (int x = 0; x < width; x++) {
                        dst[o + x] = table[data[i + x] & 0xFF];
                    }
                    continue;
                }
                for (int x = 0; x < width; x++, i += pixelStride) {
                    dst[o + x] = table[data[i] & 0xFF];
                }
            }
        }

        @Override
        void readRow(int y, float[][] dst) {
            int row = (originY + y) * scanlineStride + originX * pixelStride;
            if (colours == 1) {
                float[] out = dst[0];
                float[] u = unit[0];
                int i = bankOffset[0] + bandOffset[0] + row;
                for (int x = 0; x < width; x++, i += pixelStride) {
                    out[x] = u[sample(0, i)];
                }
                return;
            }
            int ir = bankOffset[0] + bandOffset[0] + row;
            int ig = bankOffset[1] + bandOffset[1] + row;
            int ib = bankOffset[2] + bandOffset[2] + row;
            float[] ur = unit[0];
            float[] ug = unit[1];
            float[] ub = unit[2];
            if (channels == 1) {
                float[] out = dst[0];
                for (int x = 0; x < width; x++, ir += pixelStride, ig += pixelStride, ib += pixelStride) {
                    out[x] = LUMA_R * ur[sample(0, ir)] + LUMA_G * ug[sample(1, ig)] + LUMA_B * ub[sample(2, ib)];
                }
            } else {
                float[] r = dst[0];
                float[] g = dst[1];
                float[] b = dst[2];
                for (int x = 0; x < width; x++, ir += pixelStride, ig += pixelStride, ib += pixelStride) {
                    r[x] = ur[sample(0, ir)];
                    g[x] = ug[sample(1, ig)];
                    b[x] = ub[sample(2, ib)];
                }
            }
        }
    }

    /** Packed int pixels (TYPE_INT_RGB, TYPE_INT_ARGB, TYPE_INT_BGR). */
    private static final class PackedIntRows extends PixelRows {
        private final int[] data;
        private final int base;
        private final int scanlineStride;
        private final int[] masks;
        private final int[] shifts;
        private final float[][] unit;

        PackedIntRows(BufferedImage image, DirectColorModel cm, boolean luminance) {
            super(image.getWidth(), image.getHeight(), luminance ? 1 : 3);
            Raster raster = image.getRaster();
            SinglePixelPackedSampleModel sm = (SinglePixelPackedSampleModel) raster.getSampleModel();
            DataBufferInt db = (DataBufferInt) raster.getDataBuffer();
            data = db.getData();
            scanlineStride = sm.getScanlineStride();
            int originX = raster.getMinX() - raster.getSampleModelTranslateX();
            int originY = raster.getMinY() - raster.getSampleModelTranslateY();
            base = db.getOffset() + originY * scanlineStride + originX;
            masks = new int[] {cm.getRedMask(), cm.getGreenMask(), cm.getBlueMask()};
            shifts = new int[3];
            unit = new float[3][];
            for (int c = 0; c < 3; c++) {
                shifts[c] = Integer.numberOfTrailingZeros(masks[c]);
                unit[c] = unitTableFor(Integer.bitCount(masks[c]));
            }
        }

        @Override
        void readRow(int y, float[][] dst) {
            int i = base + y * scanlineStride;
            for (int x = 0; x < width; x++, i++) {
                int p = data[i];
                float r = unit[0][(p & masks[0]) >>> shifts[0]];
                float g = unit[1][(p & masks[1]) >>> shifts[1]];
                float b = unit[2][(p & masks[2]) >>> shifts[2]];
                if (channels == 1) {
                    dst[0][x] = LUMA_R * r + LUMA_G * g + LUMA_B * b;
                } else {
                    dst[0][x] = r;
                    dst[1][x] = g;
                    dst[2][x] = b;
                }
            }
        }
    }

    /** Palette images (PNG colour type 3, and 1/2/4-bit gray, which ImageIO maps to a gray palette). */
    private static final class IndexedRows extends PixelRows {
        private final Raster raster;
        private final float[][] palette;
        private final int[] indices;

        IndexedRows(BufferedImage image, IndexColorModel cm, boolean luminance) {
            super(image.getWidth(), image.getHeight(), luminance ? 1 : 3);
            raster = image.getRaster();
            int size = cm.getMapSize();
            byte[] r = new byte[size];
            byte[] g = new byte[size];
            byte[] b = new byte[size];
            cm.getReds(r);
            cm.getGreens(g);
            cm.getBlues(b);
            // the raster's sample depth can address more entries than the palette holds; such pixels read as black
            int entries = Math.max(size, 1 << raster.getSampleModel().getSampleSize(0));
            palette = new float[channels][entries];
            for (int i = 0; i < size; i++) {
                float rf = UNIT_8[r[i] & 0xFF];
                float gf = UNIT_8[g[i] & 0xFF];
                float bf = UNIT_8[b[i] & 0xFF];
                if (channels == 1) {
                    palette[0][i] = LUMA_R * rf + LUMA_G * gf + LUMA_B * bf;
                } else {
                    palette[0][i] = rf;
                    palette[1][i] = gf;
                    palette[2][i] = bf;
                }
            }
            indices = new int[width];
        }

        @Override
        void readRow(int y, float[][] dst) {
            raster.getSamples(raster.getMinX(), raster.getMinY() + y, width, 1, 0, indices);
            for (int c = 0; c < channels; c++) {
                float[] p = palette[c];
                float[] out = dst[c];
                for (int x = 0; x < width; x++) {
                    out[x] = p[indices[x]];
                }
            }
        }
    }

    /** Anything else (e.g. an ICC colour space): converted to sRGB by the colour model, one row at a time. */
    private static final class RgbRows extends PixelRows {
        private final BufferedImage image;
        private final int[] argb;

        RgbRows(BufferedImage image, boolean luminance) {
            super(image.getWidth(), image.getHeight(), luminance ? 1 : 3);
            this.image = image;
            this.argb = new int[width];
        }

        @Override
        void readRow(int y, float[][] dst) {
            image.getRGB(0, y, width, 1, argb, 0, width);
            for (int x = 0; x < width; x++) {
                int p = argb[x];
                float r = UNIT_8[(p >>> 16) & 0xFF];
                float g = UNIT_8[(p >>> 8) & 0xFF];
                float b = UNIT_8[p & 0xFF];
                if (channels == 1) {
                    dst[0][x] = LUMA_R * r + LUMA_G * g + LUMA_B * b;
                } else {
                    dst[0][x] = r;
                    dst[1][x] = g;
                    dst[2][x] = b;
                }
            }
        }
    }
}
