package io.medfuse.model.image;

import java.awt.Transparency;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentColorModel;
import java.awt.image.ComponentSampleModel;
import java.awt.image.DataBuffer;
import java.awt.image.DataBufferByte;
import java.awt.image.DataBufferUShort;
import java.awt.image.PixelInterleavedSampleModel;
import java.awt.image.Raster;
import java.awt.image.WritableRaster;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.ShortPointer;
import org.bytedeco.opencv.global.opencv_core;
import org.bytedeco.opencv.global.opencv_imgcodecs;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.MatVector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * JPEG and PNG decoding by OpenCV's imgcodecs (libjpeg-turbo with SIMD, libpng), from Bytedeco's Maven Central
 * binaries (ADR 0015). Loaded once per process; where it cannot load (another platform, no writable cache directory
 * for JavaCPP's extracted libraries) {@link #available()} is false and ImageIO decodes everything.
 *
 * <p>{@link #decode} returns the decoded image as a {@link BufferedImage} laid out like ImageIO's (interleaved 8 or
 * 16-bit components, sRGB or gray), so the same {@link PixelRows} code reads both, or null when the file is not one the
 * native decoder reproduces exactly ({@link EncodedStructure}) or when imgcodecs does not decode it: the caller then
 * decodes with ImageIO, which gives today's pixels or today's error. libjpeg-turbo's default accurate integer IDCT
 * and fancy upsampling give the samples of the IJG libjpeg 6b inside the JDK, and PNG is lossless, so for the files
 * decoded here the samples are identical ({@code DecoderParityTest}).
 */
final class NativeCodecs {

    private static final Logger LOG = LoggerFactory.getLogger(NativeCodecs.class);

    private NativeCodecs() {
    }

    /** Whether the native decoder loaded in this process. */
    static boolean available() {
        return Holder.FAILURE == null;
    }

    /** "OpenCV 4.13.0 imgcodecs", or why it is not available. */
    static String describe() {
        return available() ? "OpenCV " + Holder.VERSION + " imgcodecs (libjpeg-turbo, libpng; native)"
                : "unavailable: " + Holder.FAILURE;
    }

    /**
     * The decoded image, or null when ImageIO should decode this file.
     *
     * @param png PNG when true, JPEG when false (the caller sniffed the magic number)
     * @throws ImageTooLargeException when the header's size exceeds the limit (before anything is decoded)
     */
    static BufferedImage decode(byte[] encoded, boolean png, ImageLimits limits) {
        if (!available()) {
            return null;
        }
        EncodedStructure structure = png ? EncodedStructure.png(encoded) : EncodedStructure.jpeg(encoded);
        if (!structure.nativeDecodes()) {
            return null;
        }
        long pixels = (long) structure.width() * structure.height();
        if (pixels > limits.maxPixels()) {
            throw new ImageTooLargeException("the image header says " + structure.width() + "x" + structure.height()
                    + " = " + pixels + " pixels, over the limit of " + limits.maxPixels()
                    + " (image.max.pixels); send a smaller image or raise image.max.pixels");
        }
        try (BytePointer bytes = new BytePointer(encoded);
             Mat buffer = new Mat(1, encoded.length, opencv_core.CV_8UC1, bytes);
             Mat image = opencv_imgcodecs.imdecode(buffer, opencv_imgcodecs.IMREAD_UNCHANGED)) {
            if (image == null || image.empty() || image.cols() != structure.width()
                    || image.rows() != structure.height() || !image.isContinuous()) {
                return null;
            }
            int channels = image.channels();
            int depth = image.depth();
            if ((channels != 1 && channels != 3 && channels != 4)
                    || (depth != opencv_core.CV_8U && depth != opencv_core.CV_16U)) {
                return null;
            }
            return wrap(image, channels, depth == opencv_core.CV_16U, structure.grayOrigin());
        } catch (RuntimeException e) {
            // a cv::Exception surfaces as a RuntimeException; ImageIO gives the file its usual answer
            return null;
        }
    }

    /** At most this many bytes of decoded samples are kept for reuse ({@link #recycle}). */
    static final long POOL_BYTES = 128L * 1024 * 1024;

    /** The {@link BufferedImage} property naming the pooled array an image's samples are in. */
    private static final String POOLED = "medfuse.pooled-samples";

    /**
     * Arrays of decoded 8-bit samples given back by images whose tensors have been written. An image is held until
     * its batch runs (its tensor is written then, {@link ImageTensor}), so each needs an array of its own; without
     * reuse a 512x512 colour image allocates 0.8 MB, which the worker's 2 GiB heap (1 MiB G1 regions) takes as a
     * humongous object, at a cost measured in the bench (docs/benchmarks.md).
     */
    private static final java.util.concurrent.ConcurrentLinkedQueue<byte[]> POOL =
            new java.util.concurrent.ConcurrentLinkedQueue<>();
    private static final java.util.concurrent.atomic.AtomicLong POOLED_BYTES =
            new java.util.concurrent.atomic.AtomicLong();

    /** An array of at least {@code count} samples: one given back, when it fits without wasting much, or a new one. */
    private static byte[] samples(int count) {
        byte[] b = POOL.poll();
        if (b != null) {
            POOLED_BYTES.addAndGet(-b.length);
            if (b.length >= count && b.length <= 2L * count) {
                return b;
            }
            // another size (another model's or image's): left to the collector
        }
        return new byte[count];
    }

    /**
     * Gives the samples of an image decoded here back for another image, when the pool has room. The caller
     * guarantees that nothing reads the image any more; an image decoded elsewhere is ignored.
     */
    static void recycle(BufferedImage image) {
        if (!(image.getProperty(POOLED) instanceof byte[] b)) {
            return;
        }
        if (POOLED_BYTES.addAndGet(b.length) <= POOL_BYTES) {
            POOL.offer(b);
        } else {
            POOLED_BYTES.addAndGet(-b.length); // full: left to the collector
        }
    }

    private static java.util.Hashtable<String, Object> pooled(byte[] samples) {
        java.util.Hashtable<String, Object> properties = new java.util.Hashtable<>();
        properties.put(POOLED, samples);
        return properties;
    }

    private static BufferedImage wrap(Mat image, int channels, boolean sixteen, boolean grayOrigin) {
        int w = image.cols();
        int h = image.rows();
        int samples = Math.multiplyExact(Math.multiplyExact(w, h), channels);
        boolean gray = grayOrigin || channels == 1;
        // OpenCV stores B, G, R (, A); of an expanded gray image only the first channel is the stored value
        int[] bands = gray ? new int[] {0} : new int[] {2, 1, 0};
        DataBuffer data;
        int type;
        java.util.Hashtable<String, Object> properties = null;
        if (sixteen) {
            short[] s = new short[samples];
            new ShortPointer(image.data()).get(s);
            data = new DataBufferUShort(s, samples);
            type = DataBuffer.TYPE_USHORT;
        } else if (!gray) {
            // Colour, 8-bit: split into planes here (OpenCV's vectorised split), R, G, B one after the other, so the
            // rows are read with stride 1, which the JIT compiles better than every third byte: decode + preprocess
            // of a 512x512 JPEG 1.13 -> 1.08 ms (bench --only preprocess; docs/benchmarks.md).
            int plane = w * h;
            byte[] b = samples(3 * plane);
            try (MatVector parts = new MatVector()) {
                opencv_core.split(image, parts);
                for (int c = 0; c < 3; c++) {
                    // OpenCV's planes are B, G, R (, A)
                    parts.get(2 - c).data().get(b, c * plane, plane);
                }
            }
            WritableRaster raster = Raster.createWritableRaster(new ComponentSampleModel(DataBuffer.TYPE_BYTE, w, h,
                    1, w, new int[] {0, 0, 0}, new int[] {0, plane, 2 * plane}), new DataBufferByte(b, 3 * plane),
                    null);
            ComponentColorModel cm = new ComponentColorModel(ColorSpace.getInstance(ColorSpace.CS_sRGB), false,
                    false, Transparency.OPAQUE, DataBuffer.TYPE_BYTE);
            return new BufferedImage(cm, raster, false, pooled(b));
        } else {
            byte[] b = samples(samples);
            image.data().get(b, 0, samples);
            data = new DataBufferByte(b, samples);
            type = DataBuffer.TYPE_BYTE;
            properties = pooled(b);
        }
        WritableRaster raster = Raster.createWritableRaster(
                new PixelInterleavedSampleModel(type, w, h, channels, w * channels, bands), data, null);
        ComponentColorModel cm = new ComponentColorModel(ColorSpace.getInstance(gray ? ColorSpace.CS_GRAY
                : ColorSpace.CS_sRGB), false, false, Transparency.OPAQUE, type);
        return new BufferedImage(cm, raster, false, properties);
    }

    /** Loads the libraries on first use; a failure is kept and logged once. */
    private static final class Holder {
        static final String VERSION;
        static final Throwable FAILURE;

        static {
            String version = null;
            Throwable failure = null;
            try {
                Loader.load(opencv_imgcodecs.class);
                version = opencv_core.CV_VERSION();
            } catch (Throwable t) {
                // UnsatisfiedLinkError, NoClassDefFoundError, or JavaCPP's own failure to extract the libraries:
                // any of them means "decode in Java", never a worker that cannot start
                failure = t;
            }
            VERSION = version;
            FAILURE = failure;
            if (failure == null) {
                LOG.info("image decoding: OpenCV {} imgcodecs (libjpeg-turbo, libpng), native; ImageIO for the "
                        + "layouts it does not reproduce exactly (CMYK, 12-bit, ICC profiles)", version);
            } else {
                LOG.warn("image decoding: the native decoder (OpenCV imgcodecs) could not load ({}); decoding with "
                        + "ImageIO, slower but with the same pixels", failure.toString());
            }
        }
    }
}
