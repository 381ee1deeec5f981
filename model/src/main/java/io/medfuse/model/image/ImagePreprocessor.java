package io.medfuse.model.image;

import io.medfuse.model.contract.ImageSpec;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.spi.ImageReaderSpi;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;

/**
 * Turns an encoded PNG or JPEG into the model's image tensor, exactly as the contract's {@link ImageSpec} says. The
 * worker and the trainer both use this class, so a model is served with the preprocessing it was trained with
 * ({@code ModelContract.PREPROCESSING_VERSION} names this implementation).
 *
 * <p>Steps, in order:
 * <ol>
 *   <li>the media type must be {@code image/png} or {@code image/jpeg} ({@code image/jpg} accepted; case and
 *       parameters such as {@code ; charset=...} ignored);</li>
 *   <li>the encoded size must be at most {@link ImageLimits#maxBytes()};</li>
 *   <li>the magic number must say PNG ({@code 89 50 4E 47}) or JPEG ({@code FF D8 FF}) and agree with the media
 *       type;</li>
 *   <li>only the header is read, and width × height must be at most {@link ImageLimits#maxPixels()}, so a small file
 *       that claims a huge size is refused before any pixel memory is allocated;</li>
 *   <li>the pixels are decoded by the {@link ImageDecoder}: natively by OpenCV's imgcodecs (libjpeg-turbo, libpng)
 *       for the layouts whose samples it reproduces exactly, otherwise (CMYK, 12-bit, ICC profiles, or where the
 *       native libraries do not load) by ImageIO (TwelveMonkeys' JPEG reader when present, which handles CMYK/YCCK);
 *       the samples are the same either way. PNG gray (1–16 bit), palette, RGB and RGBA (8 and 16 bit) and JPEG gray, RGB and CMYK are accepted. A
 *       truncated JPEG (which ImageIO would otherwise complete with gray) is refused;</li>
 *   <li>samples are scaled to [0,1] by their full range (/255 for 8-bit, /65535 for 16-bit, no loss to 8 bits);
 *       <b>alpha is ignored</b>: colour samples are used as stored, not composited over any background; EXIF
 *       orientation is not applied; stored gray values are used without gamma conversion;</li>
 *   <li>channels: for 3, gray is replicated to R, G, B; for 1, colour becomes luminance
 *       {@code 0.299 R + 0.587 G + 0.114 B} and gray is used directly;</li>
 *   <li>resize to {@code spec.width() × spec.height()} by bilinear interpolation with aligned pixel centres and edge
 *       replication (as OpenCV {@code INTER_LINEAR}; no anti-aliasing when shrinking). {@code STRETCH} maps the whole
 *       image; {@code CENTER_CROP} scales by {@code max(W/w, H/h)} so the image covers the target, then takes the
 *       middle, with the crop offset rounded down to a whole scaled pixel. A source that already has the target size
 *       (or a crop at scale 1) is copied exactly;</li>
 *   <li>normalise {@code (v - mean[c]) / std[c]} and write channel-major (CHW).</li>
 * </ol>
 *
 * <p>Steps 1–5 are {@link #decode(byte[], String)}, which is where every failure happens; steps 6–9 run when the
 * returned {@link ImageTensor} is written, into an array or straight into a batch's (direct) input buffer, in one
 * pass per output row. {@link #preprocess} does both.
 *
 * <p>Immutable and thread-safe: every call uses its own reader and buffers. Failures are unchecked
 * {@link ImageException}s; their messages never contain pixel values or patient data.
 */
public final class ImagePreprocessor {

    private static final int MEDIA_TYPE_ECHO_LIMIT = 80;

    private final ImageSpec spec;
    private final ImageLimits limits;
    private final float[] mean;
    private final float[] std;
    /**
     * Per channel, the normalised value of every 8-bit sample, {@code (v / 255 - mean) / std}, computed with the very
     * float operations of the row-by-row path, so the tensor is bit-for-bit the same either way.
     */
    private final float[][] normalised8;
    private final int dicomFrame;
    private final ImageDecoder decoder;

    /** As {@link #ImagePreprocessor(ImageSpec, ImageLimits, int)}, reading a DICOM object's first frame. */
    public ImagePreprocessor(ImageSpec spec, ImageLimits limits) {
        this(spec, limits, 0);
    }

    /** As {@link #ImagePreprocessor(ImageSpec, ImageLimits, int, ImageDecoder)} with the process's decoder. */
    public ImagePreprocessor(ImageSpec spec, ImageLimits limits, int dicomFrame) {
        this(spec, limits, dicomFrame, ImageDecoder.configured());
    }

    /**
     * @param spec image part of a validated model contract (channels 1 or 3, positive size, std &gt; 0)
     * @param limits size limits checked before decoding
     * @param dicomFrame 0-based frame read from multi-frame DICOM objects
     * @param decoder decodes PNG and JPEG (and a DICOM object's JPEG frames)
     * @throws NullPointerException when an argument is null
     * @throws IllegalArgumentException when the spec cannot be applied (wrong channels, size, mean/std lengths)
     */
    public ImagePreprocessor(ImageSpec spec, ImageLimits limits, int dicomFrame, ImageDecoder decoder) {
        this.spec = Objects.requireNonNull(spec, "spec");
        this.decoder = Objects.requireNonNull(decoder, "decoder");
        if (dicomFrame < 0) {
            throw new IllegalArgumentException("image.dicom.frame must be >= 0, got " + dicomFrame);
        }
        this.dicomFrame = dicomFrame;
        this.limits = Objects.requireNonNull(limits, "limits");
        if (spec.channels() != 1 && spec.channels() != 3) {
            throw new IllegalArgumentException("image.channels must be 1 or 3, got " + spec.channels());
        }
        if (spec.width() <= 0 || spec.height() <= 0) {
            throw new IllegalArgumentException("image size must be > 0, got " + spec.width() + "x" + spec.height());
        }
        if (spec.resize() == null) {
            throw new IllegalArgumentException("image.resize is missing (STRETCH or CENTER_CROP)");
        }
        if (spec.mean() == null || spec.mean().size() != spec.channels() || spec.std() == null
                || spec.std().size() != spec.channels()) {
            throw new IllegalArgumentException("image.mean and image.std need one value per channel ("
                    + spec.channels() + "), got " + spec.mean() + " and " + spec.std());
        }
        mean = new float[spec.channels()];
        std = new float[spec.channels()];
        for (int c = 0; c < mean.length; c++) {
            mean[c] = spec.mean().get(c).floatValue();
            std[c] = spec.std().get(c).floatValue();
            if (!(std[c] > 0) || !Float.isFinite(std[c]) || !Float.isFinite(mean[c])) {
                throw new IllegalArgumentException("image.std must be finite and > 0 and image.mean finite, got mean "
                        + spec.mean() + " std " + spec.std());
            }
        }
        float[] unit = PixelRows.unitTableFor(8);
        normalised8 = new float[mean.length][256];
        for (int c = 0; c < mean.length; c++) {
            for (int v = 0; v < 256; v++) {
                normalised8[c][v] = (unit[v] - mean[c]) / std[c];
            }
        }
    }

    /** The image part of the contract this preprocessor applies. */
    public ImageSpec spec() {
        return spec;
    }

    /** The decoder this preprocessor uses (for a model's contract: {@link ImageDecoder#contractId()}). */
    public ImageDecoder decoder() {
        return decoder;
    }

    /** The size limits this preprocessor enforces. */
    public ImageLimits limits() {
        return limits;
    }

    /**
     * New float[spec.tensorSize()] in CHW order.
     *
     * @param encoded the PNG or JPEG file's bytes; not modified
     * @param mediaType the declared media type, e.g. {@code image/png}
     * @throws UnsupportedMediaTypeException media type not PNG, JPEG or DICOM
     * @throws ImageTooLargeException over {@link ImageLimits#maxBytes()} or {@link ImageLimits#maxPixels()}
     * @throws ImageDecodeException empty, truncated, corrupt, or not of the declared type
     */
    public float[] preprocess(byte[] encoded, String mediaType) {
        float[] tensor = new float[spec.tensorSize()];
        preprocessInto(encoded, mediaType, tensor, 0);
        return tensor;
    }

    /**
     * Writes spec.tensorSize() floats at dst[offset..] in CHW order (so a batch buffer can be filled in place).
     * Nothing outside that range is touched; on an exception the range's content is unspecified.
     *
     * @throws IndexOutOfBoundsException when dst cannot hold spec.tensorSize() floats at offset
     * @throws ImageException as {@link #preprocess(byte[], String)}
     */
    public void preprocessInto(byte[] encoded, String mediaType, float[] dst, int offset) {
        Objects.requireNonNull(dst, "dst");
        Objects.checkFromIndexSize(offset, spec.tensorSize(), dst.length);
        ImageTensor tensor = decode(encoded, mediaType);
        tensor.writeTo(dst, offset);
        tensor.release();
    }

    /**
     * Checks and decodes the image, everything but writing its tensor: the returned tensor is resized, converted
     * and normalised when it is written ({@link ImageTensor}), with exactly the values of
     * {@link #preprocess(byte[], String)}. Every failure the image can cause happens here.
     *
     * @throws ImageException as {@link #preprocess(byte[], String)}
     */
    public ImageTensor decode(byte[] encoded, String mediaType) {
        Format declared = Format.ofMediaType(mediaType);
        if (encoded == null || encoded.length == 0) {
            throw new ImageDecodeException("the image is empty (0 bytes); send the bytes of a PNG, JPEG or DICOM file");
        }
        if (encoded.length > limits.maxBytes()) {
            throw new ImageTooLargeException("the image is " + encoded.length + " bytes, over the limit of "
                    + limits.maxBytes() + " (image.max.bytes); send a smaller image or raise image.max.bytes");
        }
        Format actual = Format.sniff(encoded);
        if (actual == null) {
            // the declared type is supported, so the bytes are what is wrong: undecodable, not unsupported
            throw new ImageDecodeException("the media type says " + declared.mediaType
                    + " but the bytes are neither PNG, JPEG nor DICOM (they start with " + hex(encoded, 4)
                    + "); send a PNG, JPEG or DICOM file");
        }
        if (actual != declared) {
            throw new ImageDecodeException("the media type says " + declared.mediaType + " but the bytes are "
                    + actual.label + "; send the media type that matches the file");
        }
        if (actual == Format.DICOM) {
            return decode(DicomParser.parse(encoded, limits));
        }
        BufferedImage image = decodePixels(encoded, actual);
        return new Decoded(PixelRows.of(image, spec.channels()), image);
    }

    /**
     * Writes the tensor of a DICOM object parsed earlier (so a caller that reads its tags parses it once), from
     * frame {@link #dicomFrame()}.
     *
     * @throws ImageException as {@link #preprocess(byte[], String)}; {@link UnsupportedTransferSyntaxException}
     *                        when its pixel data is in a syntax medfuse does not decode
     */
    public void preprocessInto(DicomObject dicom, float[] dst, int offset) {
        Objects.requireNonNull(dst, "dst");
        Objects.checkFromIndexSize(offset, spec.tensorSize(), dst.length);
        ImageTensor tensor = decode(dicom);
        tensor.writeTo(dst, offset);
        tensor.release();
    }

    /**
     * As {@link #decode(byte[], String)} for a DICOM object parsed earlier: its frame {@link #dicomFrame()} decoded,
     * its tensor written later.
     *
     * @throws ImageException as {@link #preprocessInto(DicomObject, float[], int)}
     */
    public ImageTensor decode(DicomObject dicom) {
        Objects.requireNonNull(dicom, "dicom");
        return new Decoded(DicomPixels.rows(dicom, dicomFrame, spec.channels(), limits,
                jpeg -> decodePixels(jpeg, Format.JPEG)), null);
    }

    /** The 0-based frame read from a multi-frame DICOM object (config key {@code image.dicom.frame}). */
    public int dicomFrame() {
        return dicomFrame;
    }

    private BufferedImage decodePixels(byte[] encoded, Format format) {
        if (decoder == ImageDecoder.OPENCV) {
            BufferedImage image = NativeCodecs.decode(encoded, format == Format.PNG, limits);
            if (image != null) {
                return image;
            }
        }
        return decodeWithImageIo(encoded, format);
    }

    private BufferedImage decodeWithImageIo(byte[] encoded, Format format) {
        ImageReader reader = format.newReader();
        try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(encoded))) {
            reader.setInput(in, true, true);
            long width;
            long height;
            try {
                width = reader.getWidth(0);
                height = reader.getHeight(0);
            } catch (IOException | RuntimeException e) {
                throw new ImageDecodeException("cannot read the " + format.name() + " header (" + describe(e)
                        + "); the file is truncated or corrupt", e);
            }
            if (width <= 0 || height <= 0) {
                throw new ImageDecodeException("the " + format.name() + " header says " + width + "x" + height
                        + "; the file is corrupt");
            }
            long pixels = width * height;
            if (pixels > limits.maxPixels()) {
                throw new ImageTooLargeException("the image header says " + width + "x" + height + " = " + pixels
                        + " pixels, over the limit of " + limits.maxPixels()
                        + " (image.max.pixels); send a smaller image or raise image.max.pixels");
            }
            List<String> warnings = new ArrayList<>(2);
            reader.addIIOReadWarningListener((source, warning) -> warnings.add(warning));
            BufferedImage image;
            try {
                image = reader.read(0);
            } catch (IOException | RuntimeException e) {
                throw new ImageDecodeException("cannot decode the " + format.name() + " image (" + describe(e)
                        + "); the file is truncated, corrupt or in an unsupported colour model", e);
            }
            for (String warning : warnings) {
                // libjpeg completes a truncated stream with gray and only warns; a half-gray image must not be
                // classified as if it were the patient's
                if (warning != null && warning.toLowerCase(Locale.ROOT).contains("premature end")) {
                    throw new ImageDecodeException("the " + format.name() + " image is truncated (" + warning
                            + "); send the complete file");
                }
            }
            if (image == null || image.getWidth() != width || image.getHeight() != height) {
                throw new ImageDecodeException("the " + format.name() + " decoder returned no image of the header's "
                        + width + "x" + height + " size; the file is corrupt");
            }
            return image;
        } catch (IOException e) {
            throw new ImageDecodeException("cannot read the " + format.name() + " image: " + describe(e), e);
        } finally {
            reader.dispose();
        }
    }

    /**
     * The tensor of one decoded image, written on demand. Its {@link PixelRows} keep row scratch of their own, so
     * writes are serialised per image (two models with the same image spec may share one).
     */
    private final class Decoded implements ImageTensor {
        private final PixelRows rows;
        /** The decoded image whose samples go back to the native decoder's pool on release; null: none. */
        private BufferedImage recyclable;
        private boolean released;

        Decoded(PixelRows rows, BufferedImage recyclable) {
            this.rows = rows;
            this.recyclable = recyclable;
        }

        @Override
        public int tensorSize() {
            return spec.tensorSize();
        }

        @Override
        public synchronized void writeTo(FloatBuffer dst, int index) {
            Objects.checkFromIndexSize(index, spec.tensorSize(), dst.limit());
            checkNotReleased();
            resample(rows, new BufferOut(dst, index, spec.width(), spec.height(), spec.channels()));
        }

        @Override
        public synchronized void writeTo(float[] dst, int offset) {
            Objects.checkFromIndexSize(offset, spec.tensorSize(), dst.length);
            checkNotReleased();
            resample(rows, new ArrayOut(dst, offset, spec.width(), spec.height()));
        }

        @Override
        public synchronized void release() {
            released = true;
            if (recyclable != null) {
                NativeCodecs.recycle(recyclable);
                recyclable = null;
            }
        }

        private void checkNotReleased() {
            if (released) {
                // its samples may hold another image's by now: never write them as this one's
                throw new IllegalStateException("this image's tensor was released; it cannot be written again");
            }
        }

        @Override
        public String toString() {
            return "ImageTensor[" + rows.width + "x" + rows.height + " decoded, written as " + spec.channels() + "x"
                    + spec.height() + "x" + spec.width() + "]";
        }
    }

    /**
     * Where the tensor's rows go (CHW, {@code plane = W·H}): straight into an array, or through one row of scratch
     * into a buffer. Row (c, y) is written at {@code array()[at(c, y) ..]} and handed over by {@code done(c, y)};
     * all channels of row y at once at {@code array()[rowsAt(y) + c · rowsPlane() ..]}, handed over by
     * {@code rowsDone(y)}.
     */
    private abstract static class Out {
        final float[] array;

        Out(float[] array) {
            this.array = array;
        }

        abstract int at(int c, int y);

        abstract void done(int c, int y);

        abstract int rowsAt(int y);

        abstract int rowsPlane();

        abstract void rowsDone(int y);
    }

    /** The tensor in an array: every row written in place, nothing to hand over. */
    private static final class ArrayOut extends Out {
        private final int offset;
        private final int plane;
        private final int width;

        ArrayOut(float[] dst, int offset, int width, int height) {
            super(dst);
            this.offset = offset;
            this.width = width;
            this.plane = width * height;
        }

        @Override
        int at(int c, int y) {
            return offset + c * plane + y * width;
        }

        @Override
        void done(int c, int y) {
        }

        @Override
        int rowsAt(int y) {
            return offset + y * width;
        }

        @Override
        int rowsPlane() {
            return plane;
        }

        @Override
        void rowsDone(int y) {
        }
    }

    /**
     * The tensor in a (direct) buffer: each row computed into a scratch row of every channel ({@code C·W} floats,
     * in cache) and copied into the buffer in bulk, no per-image array at the model's size.
     */
    private static final class BufferOut extends Out {
        private final FloatBuffer dst;
        private final int index;
        private final int width;
        private final int plane;
        private final int channels;

        BufferOut(FloatBuffer dst, int index, int width, int height, int channels) {
            super(new float[channels * width]);
            this.dst = dst;
            this.index = index;
            this.width = width;
            this.plane = width * height;
            this.channels = channels;
        }

        @Override
        int at(int c, int y) {
            return c * width;
        }

        @Override
        void done(int c, int y) {
            dst.put(index + c * plane + y * width, array, c * width, width);
        }

        @Override
        int rowsAt(int y) {
            return 0;
        }

        @Override
        int rowsPlane() {
            return width;
        }

        @Override
        void rowsDone(int y) {
            for (int c = 0; c < channels; c++) {
                done(c, y);
            }
        }
    }

    private void resample(PixelRows src, Out out) {
        int sw = src.width;
        int sh = src.height;
        int dw = spec.width();
        int dh = spec.height();
        if (sw == dw && sh == dh) {
            // already the tensor size (both resize modes are the identity then): normalise each row as read. Same
            // values as the bilinear path (weights 1 and 0), without its two weighted passes; JFR showed those
            // passes at ~30 % of the worker's Java CPU on 512x512 requests
            copyNormalised(src, out);
            return;
        }
        ResizeAxis xs;
        ResizeAxis ys;
        if (spec.resize() == ImageSpec.ResizeMode.STRETCH) {
            xs = ResizeAxis.stretch(sw, dw);
            ys = ResizeAxis.stretch(sh, dh);
        } else if ((long) dw * sh >= (long) dh * sw) {
            // the width fits exactly; the scaled height overflows and is cropped in the middle
            double ratio = (double) sw / dw;
            xs = ResizeAxis.of(sw, dw, ratio, 0);
            ys = ResizeAxis.of(sh, dh, ratio, cropOffset((double) sh * dw / sw, dh));
        } else {
            double ratio = (double) sh / dh;
            ys = ResizeAxis.of(sh, dh, ratio, 0);
            xs = ResizeAxis.of(sw, dw, ratio, cropOffset((double) sw * dh / sh, dw));
        }

        int k = src.channels;
        float[][] line = new float[k][sw];
        float[][][] rows = {new float[k][dw], new float[k][dw]};
        int[] rowY = {-1, -1};
        int channels = spec.channels();
        float[] dst = out.array;
        for (int oy = 0; oy < dh; oy++) {
            int slotA = horizontalRow(src, ys.i0[oy], -1, xs, line, rows, rowY);
            float[][] a = rows[slotA];
            float wa = ys.w0[oy];
            float wb = ys.w1[oy];
            float[][] b = wb == 0 ? a : rows[horizontalRow(src, ys.i1[oy], slotA, xs, line, rows, rowY)];
            for (int c = 0; c < channels; c++) {
                int sc = Math.min(c, k - 1);
                float[] ra = a[sc];
                float[] rb = b[sc];
                float m = mean[c];
                float s = std[c];
                int base = out.at(c, oy);
                for (int ox = 0; ox < dw; ox++) {
                    dst[base + ox] = (ra[ox] * wa + rb[ox] * wb - m) / s;
                }
                out.done(c, oy);
            }
        }
    }

    /** Offset (in scaled pixels) of the centred crop, rounded down, never negative. */
    private static double cropOffset(double scaledLength, int target) {
        // the epsilon keeps a mathematically whole offset whole despite the division above
        return Math.max(0, Math.floor((scaledLength - target) / 2 + 1e-9));
    }

    /** A source of the tensor's size: each row normalised as read, no resampling. */
    private void copyNormalised(PixelRows src, Out out) {
        int w = src.width;
        int k = src.channels;
        int channels = spec.channels();
        float[] dst = out.array;
        if (src.writesNormalised8(channels)) {
            // 8-bit samples: one table lookup per sample, straight into the tensor (issue 13: this path was ~40 % of
            // the worker's CPU on 512x512 requests)
            for (int y = 0; y < src.height; y++) {
                src.writeNormalisedRow(y, normalised8, dst, out.rowsAt(y), out.rowsPlane());
                out.rowsDone(y);
            }
            return;
        }
        float[][] line = new float[k][w];
        for (int y = 0; y < src.height; y++) {
            src.readRow(y, line);
            for (int c = 0; c < channels; c++) {
                float[] in = line[Math.min(c, k - 1)];
                float m = mean[c];
                float sd = std[c];
                int base = out.at(c, y);
                for (int x = 0; x < w; x++) {
                    dst[base + x] = (in[x] - m) / sd;
                }
                out.done(c, y);
            }
        }
    }

    /**
     * Makes sure source row {@code y}, resampled horizontally, sits in one of the two row slots, and returns the slot.
     * Source rows are visited in non-decreasing order, so two slots suffice; {@code keep} is a slot not to evict.
     */
    private static int horizontalRow(PixelRows src, int y, int keep, ResizeAxis xs, float[][] line,
                                     float[][][] rows, int[] rowY) {
        if (rowY[0] == y) {
            return 0;
        }
        if (rowY[1] == y) {
            return 1;
        }
        int slot;
        if (keep >= 0) {
            slot = 1 - keep;
        } else {
            slot = rowY[0] <= rowY[1] ? 0 : 1;
        }
        src.readRow(y, line);
        float[][] out = rows[slot];
        int[] i0 = xs.i0;
        int[] i1 = xs.i1;
        float[] w0 = xs.w0;
        float[] w1 = xs.w1;
        for (int c = 0; c < src.channels; c++) {
            float[] in = line[c];
            float[] o = out[c];
            for (int x = 0; x < o.length; x++) {
                o[x] = in[i0[x]] * w0[x] + in[i1[x]] * w1[x];
            }
        }
        rowY[slot] = y;
        return slot;
    }

    /** The exception's message and, when it differs, its root cause's: "Error reading PNG image data: Unexpected end". */
    private static String describe(Throwable e) {
        String text = text(e);
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String rootText = text(root);
        return root == e || text.contains(rootText) ? text : text + ": " + rootText;
    }

    private static String text(Throwable e) {
        String message = e.getMessage();
        return message == null || message.isBlank() ? e.getClass().getSimpleName() : message;
    }

    private static String hex(byte[] bytes, int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < Math.min(n, bytes.length); i++) {
            if (i > 0) {
                sb.append(' ');
            }
            sb.append(String.format(Locale.ROOT, "%02X", bytes[i] & 0xFF));
        }
        return sb.toString();
    }

    /** The two accepted encodings. */
    private enum Format {
        PNG("image/png", "a PNG file", new byte[] {(byte) 0x89, 0x50, 0x4E, 0x47}),
        JPEG("image/jpeg", "a JPEG file", new byte[] {(byte) 0xFF, (byte) 0xD8, (byte) 0xFF}),
        DICOM("application/dicom", "a DICOM file", new byte[0]);

        final String mediaType;
        final String label;
        private final byte[] magic;

        Format(String mediaType, String label, byte[] magic) {
            this.mediaType = mediaType;
            this.label = label;
            this.magic = magic;
        }

        static Format ofMediaType(String mediaType) {
            if (mediaType == null || mediaType.isBlank()) {
                throw new UnsupportedMediaTypeException("the image has no media type; send image/png, image/jpeg or "
                        + "application/dicom");
            }
            int semicolon = mediaType.indexOf(';');
            String type = (semicolon < 0 ? mediaType : mediaType.substring(0, semicolon)).trim()
                    .toLowerCase(Locale.ROOT);
            switch (type) {
                case "image/png":
                    return PNG;
                case "image/jpeg":
                case "image/jpg":
                    return JPEG;
                case "application/dicom":
                    return DICOM;
                default:
                    String shown = mediaType.length() > MEDIA_TYPE_ECHO_LIMIT
                            ? mediaType.substring(0, MEDIA_TYPE_ECHO_LIMIT) + "..." : mediaType;
                    throw new UnsupportedMediaTypeException("media type '" + shown
                            + "' is not supported; send image/png, image/jpeg or application/dicom");
            }
        }

        static Format sniff(byte[] bytes) {
            if (DicomParser.isPart10(bytes)) {
                return DICOM;
            }
            for (Format f : values()) {
                if (f.magic.length == 0) {
                    continue;
                }
                if (bytes.length >= f.magic.length) {
                    boolean match = true;
                    for (int i = 0; i < f.magic.length && match; i++) {
                        match = bytes[i] == f.magic[i];
                    }
                    if (match) {
                        return f;
                    }
                }
            }
            return null;
        }

        ImageReader newReader() {
            ImageReaderSpi spi = this == PNG ? Readers.PNG : Readers.JPEG;
            if (spi == null) {
                throw new ImageDecodeException("no ImageIO reader for " + mediaType + " on the class path");
            }
            try {
                return spi.createReaderInstance();
            } catch (IOException e) {
                throw new ImageDecodeException("cannot create an ImageIO reader for " + mediaType, e);
            }
        }
    }

    /** Reader providers looked up once; readers themselves are not thread-safe and are created per image. */
    private static final class Readers {
        static final ImageReaderSpi PNG = find("image/png", "com.sun.imageio");
        // TwelveMonkeys' reader handles CMYK/YCCK and broken ICC profiles where the JDK's throws
        static final ImageReaderSpi JPEG = find("image/jpeg", "com.twelvemonkeys");

        private static ImageReaderSpi find(String mediaType, String preferredPackage) {
            ImageReaderSpi first = null;
            Iterator<ImageReader> readers = ImageIO.getImageReadersByMIMEType(mediaType);
            while (readers.hasNext()) {
                ImageReader reader = readers.next();
                ImageReaderSpi spi = reader.getOriginatingProvider();
                reader.dispose();
                if (spi == null) {
                    continue;
                }
                if (spi.getClass().getName().startsWith(preferredPackage)) {
                    return spi;
                }
                if (first == null) {
                    first = spi;
                }
            }
            return first;
        }
    }
}
