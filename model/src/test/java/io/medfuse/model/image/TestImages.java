package io.medfuse.model.image;

import java.awt.Transparency;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.WritableRaster;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.zip.CRC32;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.MemoryCacheImageOutputStream;

/** Small images built in memory, encoded with ImageIO, so every expected tensor value can be worked out by hand. */
final class TestImages {

    private TestImages() {
    }

    /** RGB image, {@code rgb[y][x] = {r, g, b}} in 0..255. */
    static BufferedImage rgb(int[][][] rgb) {
        int h = rgb.length;
        int w = rgb[0].length;
        BufferedImage image = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR);
        WritableRaster raster = image.getRaster();
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                raster.setPixel(x, y, rgb[y][x]);
            }
        }
        return image;
    }

    static BufferedImage constantRgb(int w, int h, int r, int g, int b) {
        int[][][] pixels = new int[h][w][];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                pixels[y][x] = new int[] {r, g, b};
            }
        }
        return rgb(pixels);
    }

    /** 8-bit gray image, {@code gray[y][x]} in 0..255. */
    static BufferedImage gray8(int[][] gray) {
        BufferedImage image = new BufferedImage(gray[0].length, gray.length, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < gray.length; y++) {
            image.getRaster().setPixels(0, y, gray[0].length, 1, gray[y]);
        }
        return image;
    }

    /** 16-bit gray image, {@code gray[y][x]} in 0..65535. */
    static BufferedImage gray16(int[][] gray) {
        BufferedImage image = new BufferedImage(gray[0].length, gray.length, BufferedImage.TYPE_USHORT_GRAY);
        for (int y = 0; y < gray.length; y++) {
            image.getRaster().setPixels(0, y, gray[0].length, 1, gray[y]);
        }
        return image;
    }

    /** 16-bit per channel RGB (PNG colour type 2, bit depth 16), {@code rgb[y][x]} in 0..65535. */
    static BufferedImage rgb16(int[][][] rgb) {
        ComponentColorModel cm = new ComponentColorModel(ColorSpace.getInstance(ColorSpace.CS_sRGB), false, false,
                Transparency.OPAQUE, DataBuffer.TYPE_USHORT);
        WritableRaster raster = cm.createCompatibleWritableRaster(rgb[0].length, rgb.length);
        for (int y = 0; y < rgb.length; y++) {
            for (int x = 0; x < rgb[0].length; x++) {
                raster.setPixel(x, y, rgb[y][x]);
            }
        }
        return new BufferedImage(cm, raster, false, null);
    }

    /** 8-bit gray + alpha (PNG colour type 4). */
    static BufferedImage grayAlpha(int w, int h, int gray, int alpha) {
        ComponentColorModel cm = new ComponentColorModel(ColorSpace.getInstance(ColorSpace.CS_GRAY), true, false,
                Transparency.TRANSLUCENT, DataBuffer.TYPE_BYTE);
        WritableRaster raster = cm.createCompatibleWritableRaster(w, h);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                raster.setPixel(x, y, new int[] {gray, alpha});
            }
        }
        return new BufferedImage(cm, raster, false, null);
    }

    static byte[] png(BufferedImage image) {
        return encode(image, "png");
    }

    static byte[] jpeg(BufferedImage image) {
        ImageWriter writer = ImageIO.getImageWritersByFormatName("jpeg").next();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (MemoryCacheImageOutputStream out = new MemoryCacheImageOutputStream(bytes)) {
            writer.setOutput(out);
            ImageWriteParam param = writer.getDefaultWriteParam();
            param.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
            param.setCompressionQuality(1.0f);
            writer.write(null, new IIOImage(image, null, null), param);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            writer.dispose();
        }
        return bytes.toByteArray();
    }

    private static byte[] encode(BufferedImage image, String format) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try {
            if (!ImageIO.write(image, format, bytes)) {
                throw new IllegalStateException("no ImageIO writer for " + format + " and " + image);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /**
     * A PNG of a few dozen bytes whose IHDR (with a correct CRC) claims {@code width x height} RGB pixels, followed
     * by a truncated IDAT: decoding it would need width*height*3 bytes.
     */
    static byte[] pngHeaderBomb(int width, int height) {
        ByteBuffer buf = ByteBuffer.allocate(8 + 25 + 12 + 4);
        buf.put(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'});
        ByteBuffer ihdr = ByteBuffer.allocate(17);
        ihdr.put(new byte[] {'I', 'H', 'D', 'R'}).putInt(width).putInt(height)
                .put((byte) 8).put((byte) 2).put((byte) 0).put((byte) 0).put((byte) 0);
        CRC32 crc = new CRC32();
        crc.update(ihdr.array());
        buf.putInt(13).put(ihdr.array()).putInt((int) crc.getValue());
        // IDAT announcing 1000 bytes, of which only 4 follow
        buf.putInt(1000).put(new byte[] {'I', 'D', 'A', 'T'}).put(new byte[] {0x78, (byte) 0x9C, 0, 0});
        return buf.array();
    }

    /** A baseline JPEG start (SOI, SOF0) claiming {@code width x height} 3-component pixels, then nothing. */
    static byte[] jpegHeaderBomb(int width, int height) {
        ByteBuffer buf = ByteBuffer.allocate(2 + 19 + 4);
        buf.put((byte) 0xFF).put((byte) 0xD8);
        buf.put((byte) 0xFF).put((byte) 0xC0).putShort((short) 17).put((byte) 8)
                .putShort((short) height).putShort((short) width).put((byte) 3);
        for (int c = 1; c <= 3; c++) {
            buf.put((byte) c).put((byte) 0x11).put((byte) 0);
        }
        buf.put((byte) 0xFF).put((byte) 0xDA).putShort((short) 12);
        return buf.array();
    }
}
