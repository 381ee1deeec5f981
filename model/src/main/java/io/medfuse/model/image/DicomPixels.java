package io.medfuse.model.image;

import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.function.Function;

/**
 * Turns one frame of a DICOM object's pixel data into rows of samples in [0,1], the form {@link ImagePreprocessor}
 * resizes and normalises.
 *
 * <ul>
 *   <li><b>MONOCHROME1/2</b> (8 or 16 bits allocated, any bits stored, signed or not): the stored value, then the
 *       modality transform (RescaleSlope, RescaleIntercept), then the first WindowCenter/WindowWidth pair by the
 *       linear VOI function of PS3.3 C.11.2.1.2.1; without a window, the whole range the stored bits can hold after
 *       the modality transform maps to [0,1] (so 8-bit unsigned samples read as {@code v / 255}, as a gray PNG's do).
 *       MONOCHROME1 is inverted afterwards.</li>
 *   <li><b>RGB</b> (8 or 16 bits, either planar configuration): each sample over its stored range.</li>
 *   <li><b>YBR_FULL</b> and <b>YBR_FULL_422</b> (8 bits): to RGB by the full-range equations of PS3.3 C.7.6.3.1.2,
 *       clamped.</li>
 *   <li>Encapsulated <b>JPEG</b> frames are decoded by the same JPEG reader as {@code image/jpeg} (which converts
 *       YCbCr itself); monochrome JPEG frames then go through the monochrome path above. <b>RLE</b> frames are
 *       unpacked to their samples first.</li>
 * </ul>
 * Rows × Columns × frames × samples is checked against {@link ImageLimits#maxPixels()} and the pixel data's length
 * against what the header needs before any sample array is allocated.
 */
final class DicomPixels {

    private static final Function<String, String> UPPER = s -> s.toUpperCase(Locale.ROOT);

    private final DicomObject object;
    private final DicomDataset d;
    private final int rows;
    private final int cols;
    private final int samples;
    private final int bitsAllocated;
    private final int bitsStored;
    private final boolean signed;
    private final String photometric;
    private final int planar;
    private final int frames;

    private DicomPixels(DicomObject object) {
        this.object = object;
        this.d = object.dataset();
        rows = required(DicomTags.ROWS);
        cols = required(DicomTags.COLUMNS);
        samples = d.uint16(DicomTags.SAMPLES_PER_PIXEL).orElse(1);
        bitsAllocated = required(DicomTags.BITS_ALLOCATED);
        bitsStored = d.uint16(DicomTags.BITS_STORED).orElse(bitsAllocated);
        signed = d.uint16(DicomTags.PIXEL_REPRESENTATION).orElse(0) == 1;
        photometric = d.string(DicomTags.PHOTOMETRIC_INTERPRETATION).map(UPPER).orElseThrow(() ->
                new ImageDecodeException("the DICOM object has no PhotometricInterpretation (0028,0004)"));
        planar = d.uint16(DicomTags.PLANAR_CONFIGURATION).orElse(0);
        frames = d.integerString(DicomTags.NUMBER_OF_FRAMES).orElse(1);
    }

    /**
     * @param frame 0-based frame to read
     * @param jpeg the JPEG decoder {@code image/jpeg} uses, so both read JPEG the same way
     */
    static PixelRows rows(DicomObject object, int frame, int targetChannels, ImageLimits limits,
                          Function<byte[], BufferedImage> jpeg) {
        return new DicomPixels(object).decode(frame, targetChannels, limits, jpeg);
    }

    private PixelRows decode(int frame, int targetChannels, ImageLimits limits,
                             Function<byte[], BufferedImage> jpeg) {
        validate(frame, limits);
        DicomDataset.Element pixelData = d.element(DicomTags.PIXEL_DATA);
        if (pixelData == null) {
            throw new ImageDecodeException("the DICOM object has no PixelData (7FE0,0010); send an image object");
        }
        byte[] buf = d.buffer();
        float[][] planes;
        switch (object.transferSyntax().encoding()) {
            case NATIVE -> {
                if (pixelData.fragments() != null) {
                    throw new ImageDecodeException("the DICOM object's pixel data is encapsulated, but its transfer "
                            + "syntax " + object.transferSyntax().label() + " says it is not");
                }
                long frameBytes = nativeFrameBytes();
                long needed = frameBytes * frames;
                if (pixelData.length() < needed) {
                    throw new ImageDecodeException("the DICOM pixel data is " + pixelData.length() + " bytes; "
                            + frames + " frame(s) of " + cols + "x" + rows + " with " + samples + " sample(s) of "
                            + bitsAllocated + " bits need " + needed + "; the object is truncated or corrupt");
                }
                planes = nativePlanes(buf, pixelData.offset() + (int) (frameBytes * frame), planar);
            }
            case RLE -> {
                byte[] rle = frameBytes(pixelData, frame, false);
                planes = nativePlanes(unpackRle(rle), 0, 1);
            }
            case JPEG -> {
                if (bitsStored > 8 || bitsAllocated != 8) {
                    throw new UnsupportedTransferSyntaxException("the DICOM object's JPEG frames hold "
                            + bitsStored + "-bit samples; medfuse decodes 8-bit JPEG only");
                }
                BufferedImage image = jpeg.apply(frameBytes(pixelData, frame, true));
                if (image.getWidth() != cols || image.getHeight() != rows) {
                    throw new ImageDecodeException("the DICOM object's JPEG frame is " + image.getWidth() + "x"
                            + image.getHeight() + " but its header says " + cols + "x" + rows);
                }
                if (samples == 3) {
                    return PixelRows.of(image, targetChannels);
                }
                planes = new float[][] {monochrome(jpegGray(image))};
            }
            default -> throw new UnsupportedTransferSyntaxException("the DICOM object's transfer syntax "
                    + object.transferSyntax().label() + " is not supported");
        }
        return PixelRows.ofPlanes(cols, rows, planes, targetChannels);
    }

    private void validate(int frame, ImageLimits limits) {
        if (rows == 0 || cols == 0) {
            throw new ImageDecodeException("the DICOM header says " + cols + "x" + rows + " pixels");
        }
        if (frames < 1) {
            throw new ImageDecodeException("the DICOM header says NumberOfFrames " + frames);
        }
        long total = (long) rows * cols * frames * samples;
        if (total > limits.maxPixels()) {
            throw new ImageTooLargeException("the DICOM header says " + cols + "x" + rows + " pixels, " + frames
                    + " frame(s), " + samples + " sample(s) each = " + total + " samples, over the limit of "
                    + limits.maxPixels() + " (image.max.pixels); send a smaller image or raise image.max.pixels");
        }
        if (frame < 0 || frame >= frames) {
            throw new ImageDecodeException("frame " + frame + " is configured (image.dicom.frame) but the DICOM "
                    + "object has " + frames + " frame(s)");
        }
        if (bitsAllocated != 8 && bitsAllocated != 16) {
            throw new ImageDecodeException("the DICOM object has " + bitsAllocated + " bits allocated per sample; "
                    + "medfuse reads 8 and 16");
        }
        if (bitsStored < 1 || bitsStored > bitsAllocated) {
            throw new ImageDecodeException("the DICOM object stores " + bitsStored + " bits in " + bitsAllocated);
        }
        boolean ok = switch (photometric) {
            case "MONOCHROME1", "MONOCHROME2" -> samples == 1;
            case "RGB" -> samples == 3 && !signed;
            case "YBR_FULL", "YBR_FULL_422" -> samples == 3 && bitsAllocated == 8 && !signed;
            default -> false;
        };
        if (!ok) {
            throw new ImageDecodeException("the DICOM photometric interpretation " + shown(photometric) + " with "
                    + samples + " sample(s) of " + bitsAllocated + " bits is not supported; medfuse reads "
                    + "MONOCHROME1/2, RGB, YBR_FULL and YBR_FULL_422 (8 bits)");
        }
        if (samples == 3 && planar != 0 && planar != 1) {
            throw new ImageDecodeException("the DICOM object has PlanarConfiguration " + planar);
        }
    }

    private long nativeFrameBytes() {
        if (photometric.equals("YBR_FULL_422")) {
            if (cols % 2 != 0) {
                throw new ImageDecodeException("YBR_FULL_422 pixel data needs an even number of columns, not "
                        + cols);
            }
            return (long) rows * cols * 2;
        }
        return (long) rows * cols * samples * (bitsAllocated / 8);
    }

    /** Samples of one native frame at {@code at}, as planes in [0,1]. */
    private float[][] nativePlanes(byte[] buf, int at, int planarConfiguration) {
        int n = rows * cols;
        if (samples == 1) {
            int[] v = new int[n];
            for (int i = 0; i < n; i++) {
                v[i] = stored(buf, at, i);
            }
            return new float[][] {monochrome(v)};
        }
        float[][] planes = {new float[n], new float[n], new float[n]};
        if (photometric.equals("YBR_FULL_422")) {
            for (int i = 0; i < n; i += 2) {
                int p = at + i * 2;
                int y1 = buf[p] & 0xFF;
                int y2 = buf[p + 1] & 0xFF;
                int cb = buf[p + 2] & 0xFF;
                int cr = buf[p + 3] & 0xFF;
                ybr(y1, cb, cr, planes, i);
                ybr(y2, cb, cr, planes, i + 1);
            }
            return planes;
        }
        float max = (1 << bitsStored) - 1;
        boolean ybr = photometric.equals("YBR_FULL");
        for (int i = 0; i < n; i++) {
            int r = stored(buf, at, planarConfiguration == 0 ? i * 3 : i);
            int g = stored(buf, at, planarConfiguration == 0 ? i * 3 + 1 : n + i);
            int b = stored(buf, at, planarConfiguration == 0 ? i * 3 + 2 : 2 * n + i);
            if (ybr) {
                ybr(r, g, b, planes, i);
            } else {
                planes[0][i] = r / max;
                planes[1][i] = g / max;
                planes[2][i] = b / max;
            }
        }
        return planes;
    }

    private static void ybr(int y, int cb, int cr, float[][] planes, int i) {
        double r = y + 1.402 * (cr - 128);
        double g = y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128);
        double b = y + 1.772 * (cb - 128);
        planes[0][i] = (float) (Math.max(0, Math.min(255, r)) / 255);
        planes[1][i] = (float) (Math.max(0, Math.min(255, g)) / 255);
        planes[2][i] = (float) (Math.max(0, Math.min(255, b)) / 255);
    }

    /** Sample {@code index} of a native frame: masked to the stored bits, sign-extended when signed. */
    private int stored(byte[] buf, int at, int index) {
        int v;
        if (bitsAllocated == 8) {
            v = buf[at + index] & 0xFF;
        } else {
            int p = at + 2 * index;
            v = (buf[p] & 0xFF) | (buf[p + 1] & 0xFF) << 8;
        }
        v &= (1 << bitsStored) - 1;
        if (signed && (v & (1 << (bitsStored - 1))) != 0) {
            v -= 1 << bitsStored;
        }
        return v;
    }

    /** Modality transform, then the first window (or the full range), then MONOCHROME1's inversion, by a table. */
    private float[] monochrome(int[] storedValues) {
        double slope = d.decimalString(DicomTags.RESCALE_SLOPE).orElse(1);
        double intercept = d.decimalString(DicomTags.RESCALE_INTERCEPT).orElse(0);
        if (slope == 0) {
            throw new ImageDecodeException("the DICOM object's RescaleSlope (0028,1053) is 0");
        }
        int min = signed ? -(1 << (bitsStored - 1)) : 0;
        int max = signed ? (1 << (bitsStored - 1)) - 1 : (1 << bitsStored) - 1;
        OptionalDouble center = d.decimalString(DicomTags.WINDOW_CENTER);
        OptionalDouble width = d.decimalString(DicomTags.WINDOW_WIDTH);
        boolean windowed = center.isPresent() && width.isPresent() && width.getAsDouble() >= 1;
        double lo = Math.min(min * slope + intercept, max * slope + intercept);
        double hi = Math.max(min * slope + intercept, max * slope + intercept);
        boolean invert = photometric.equals("MONOCHROME1");
        float[] table = new float[max - min + 1];
        for (int s = min; s <= max; s++) {
            double m = s * slope + intercept;
            double y;
            if (windowed) {
                double c = center.getAsDouble();
                double w = width.getAsDouble();
                if (m <= c - 0.5 - (w - 1) / 2) {
                    y = 0;
                } else if (m > c - 0.5 + (w - 1) / 2) {
                    y = 1;
                } else {
                    y = (m - (c - 0.5)) / (w - 1) + 0.5;
                }
            } else {
                y = hi > lo ? (m - lo) / (hi - lo) : 0;
            }
            table[s - min] = (float) (invert ? 1 - y : y);
        }
        float[] out = new float[storedValues.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = table[storedValues[i] - min];
        }
        return out;
    }

    private int[] jpegGray(BufferedImage image) {
        Raster raster = image.getRaster();
        int[] v = new int[rows * cols];
        raster.getSamples(0, 0, cols, rows, 0, v);
        int mask = (1 << bitsStored) - 1;
        for (int i = 0; i < v.length; i++) {
            v[i] &= mask;
        }
        return v;
    }

    /**
     * The bytes of frame {@code frame} of encapsulated pixel data: by the Basic Offset Table when it has one entry
     * per frame; else one fragment per frame when the counts agree; else, for JPEG, a new frame at each fragment
     * that starts with a JPEG start-of-image marker; a single frame takes every fragment.
     */
    private byte[] frameBytes(DicomDataset.Element pixelData, int frame, boolean jpegStream) {
        if (pixelData.fragments() == null) {
            throw new ImageDecodeException("the DICOM transfer syntax " + object.transferSyntax().label()
                    + " needs encapsulated pixel data, but PixelData (7FE0,0010) has a defined length");
        }
        byte[] buf = d.buffer();
        List<DicomDataset.Fragment> all = pixelData.fragments();
        DicomDataset.Fragment table = all.get(0);
        List<DicomDataset.Fragment> fragments = all.subList(1, all.size());
        if (fragments.isEmpty()) {
            throw new ImageDecodeException("the DICOM object's encapsulated pixel data has no fragments");
        }
        List<List<DicomDataset.Fragment>> perFrame = new ArrayList<>();
        if (frames == 1) {
            perFrame.add(fragments);
        } else if (table.length() == 4L * frames) {
            long firstItem = fragments.get(0).itemOffset();
            long[] offsets = new long[frames + 1];
            for (int i = 0; i < frames; i++) {
                int p = table.offset() + 4 * i;
                offsets[i] = (buf[p] & 0xFFL) | (buf[p + 1] & 0xFFL) << 8 | (buf[p + 2] & 0xFFL) << 16
                        | (buf[p + 3] & 0xFFL) << 24;
            }
            offsets[frames] = Long.MAX_VALUE;
            for (int i = 0; i < frames; i++) {
                List<DicomDataset.Fragment> list = new ArrayList<>();
                for (DicomDataset.Fragment f : fragments) {
                    long rel = f.itemOffset() - firstItem;
                    if (rel >= offsets[i] && rel < offsets[i + 1]) {
                        list.add(f);
                    }
                }
                perFrame.add(list);
            }
        } else if (fragments.size() == frames) {
            for (DicomDataset.Fragment f : fragments) {
                perFrame.add(List.of(f));
            }
        } else if (jpegStream) {
            for (DicomDataset.Fragment f : fragments) {
                boolean soi = f.length() >= 2 && (buf[f.offset()] & 0xFF) == 0xFF
                        && (buf[f.offset() + 1] & 0xFF) == 0xD8;
                if (soi || perFrame.isEmpty()) {
                    perFrame.add(new ArrayList<>());
                }
                perFrame.get(perFrame.size() - 1).add(f);
            }
        }
        if (frame >= perFrame.size() || perFrame.get(frame).isEmpty()) {
            throw new ImageDecodeException("the DICOM object's encapsulated pixel data has no fragments for frame "
                    + frame + " of " + frames);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (DicomDataset.Fragment f : perFrame.get(frame)) {
            out.write(buf, f.offset(), f.length());
        }
        return out.toByteArray();
    }

    /**
     * Unpacks an RLE Lossless frame (PS3.5 G): a 64-byte header with the segment count and offsets, one PackBits
     * segment per byte of each sample (most significant first), into native samples with planar configuration 1
     * (little endian for 16 bits).
     */
    private byte[] unpackRle(byte[] rle) {
        int bytesPerSample = bitsAllocated / 8;
        int segments = samples * bytesPerSample;
        if (rle.length < 64) {
            throw new ImageDecodeException("the DICOM RLE frame is " + rle.length + " bytes, shorter than its header");
        }
        long count = u32(rle, 0);
        if (count != segments) {
            throw new ImageDecodeException("the DICOM RLE frame has " + count + " segments; " + samples
                    + " sample(s) of " + bitsAllocated + " bits need " + segments);
        }
        int n = rows * cols;
        byte[] out = new byte[n * segments];
        for (int s = 0; s < segments; s++) {
            long start = u32(rle, 4 + 4 * s);
            long end = s + 1 < segments ? u32(rle, 8 + 4 * s) : rle.length;
            if (start < 64 || start > end || end > rle.length) {
                throw new ImageDecodeException("the DICOM RLE frame's segment " + (s + 1) + " lies outside the frame");
            }
            int sample = s / bytesPerSample;
            int byteIndex = s % bytesPerSample; // 0: most significant
            int shift = bytesPerSample - 1 - byteIndex; // byte position in the little-endian sample
            int written = packBits(rle, (int) start, (int) end, out, sample * n * bytesPerSample + shift,
                    bytesPerSample, n);
            if (written < n) {
                throw new ImageDecodeException("the DICOM RLE frame's segment " + (s + 1) + " holds " + written
                        + " bytes; " + n + " are needed");
            }
        }
        return out;
    }

    /** Decodes PackBits from {@code src[start..end)} into every {@code stride}-th byte of dst from {@code at}. */
    private static int packBits(byte[] src, int start, int end, byte[] dst, int at, int stride, int n) {
        int written = 0;
        int p = start;
        while (p < end && written < n) {
            int h = src[p++];
            if (h >= 0) {
                int len = h + 1;
                if (p + len > end) {
                    throw new ImageDecodeException("a DICOM RLE literal run passes the end of its segment");
                }
                for (int i = 0; i < len && written < n; i++) {
                    dst[at + stride * written++] = src[p + i];
                }
                p += len;
            } else if (h != -128) {
                if (p >= end) {
                    throw new ImageDecodeException("a DICOM RLE replicate run passes the end of its segment");
                }
                byte b = src[p++];
                int len = 1 - h;
                for (int i = 0; i < len && written < n; i++) {
                    dst[at + stride * written++] = b;
                }
            }
        }
        return written;
    }

    private static long u32(byte[] b, int at) {
        return (b[at] & 0xFFL) | (b[at + 1] & 0xFFL) << 8 | (b[at + 2] & 0xFFL) << 16 | (b[at + 3] & 0xFFL) << 24;
    }

    private int required(int tag) {
        OptionalInt v = d.uint16(tag);
        if (v.isEmpty()) {
            throw new ImageDecodeException("the DICOM object has no " + DicomTags.name(tag) + "; it is not an image "
                    + "or is corrupt");
        }
        return v.getAsInt();
    }

    private static String shown(String value) {
        return value.matches("[A-Z0-9_ ]{1,16}") ? value : "(invalid)";
    }
}
