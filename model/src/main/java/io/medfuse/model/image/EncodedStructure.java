package io.medfuse.model.image;

/**
 * What a PNG's chunks or a JPEG's markers say, read without decoding a pixel: the size, whether the file is complete,
 * and whether it is one of the layouts the native decoder turns into exactly the samples ImageIO gives. Anything
 * else (a CMYK or 12-bit JPEG, an embedded ICC profile, a missing end marker, a malformed header) is left to ImageIO,
 * which decodes it as before or refuses it with its usual message.
 *
 * <p>The walk is bounded by the file: every length is checked against the bytes that are there before it is used, and
 * nothing is allocated.
 *
 * @param width the header's width, or -1 when it could not be read
 * @param height the header's height, or -1
 * @param nativeDecodes whether the native decoder's samples are ImageIO's for this file (see {@link #why})
 * @param grayOrigin the stored samples are gray (PNG colour types 0 and 4, one-component JPEG): the native decoder
 *                   may expand them to three or four channels, and only the first is the stored value
 * @param why when {@code nativeDecodes} is false, the reason, for tests and logs (never content)
 */
record EncodedStructure(int width, int height, boolean nativeDecodes, boolean grayOrigin, String why) {

    private static final byte[] ICC = "ICC_PROFILE\0".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    private static final byte[] ADOBE = "Adobe".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    private static EncodedStructure imageIo(int width, int height, String why) {
        return new EncodedStructure(width, height, false, false, why);
    }

    /** Walks a JPEG's markers from SOI to EOI, skipping the entropy-coded data of each scan. */
    static EncodedStructure jpeg(byte[] b) {
        int n = b.length;
        if (n < 4 || (b[0] & 0xFF) != 0xFF || (b[1] & 0xFF) != 0xD8) {
            return imageIo(-1, -1, "no SOI marker");
        }
        int width = -1;
        int height = -1;
        int precision = -1;
        int components = -1;
        int sof = -1;
        boolean rgbIds = false;
        boolean icc = false;
        int adobeTransform = -2; // -2: no Adobe segment
        int i = 2;
        while (true) {
            if (i + 1 >= n) {
                return imageIo(width, height, "ends before its EOI marker");
            }
            if ((b[i] & 0xFF) != 0xFF) {
                return imageIo(width, height, "a marker was expected");
            }
            int m = b[i + 1] & 0xFF;
            if (m == 0xFF) {
                i++; // fill byte
                continue;
            }
            if (m == 0xD9) {
                break;
            }
            if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {
                i += 2;
                continue;
            }
            if (i + 3 >= n) {
                return imageIo(width, height, "ends inside a marker");
            }
            int length = u16(b, i + 2);
            int seg = i + 4;
            int end = i + 2 + length;
            if (length < 2 || end > n) {
                return imageIo(width, height, "a segment runs past the end");
            }
            if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
                if (length < 8 || sof >= 0) {
                    return imageIo(width, height, sof >= 0 ? "two frame headers" : "short frame header");
                }
                sof = m;
                precision = b[seg] & 0xFF;
                height = u16(b, seg + 1);
                width = u16(b, seg + 3);
                components = b[seg + 5] & 0xFF;
                if (length < 8 + 3 * components) {
                    return imageIo(width, height, "short frame header");
                }
                rgbIds = components == 3 && b[seg + 6] == 'R' && b[seg + 9] == 'G' && b[seg + 12] == 'B';
            } else if (m == 0xE2 && startsWith(b, seg, end, ICC)) {
                icc = true;
            } else if (m == 0xEE && startsWith(b, seg, end, ADOBE) && length >= 14) {
                adobeTransform = b[seg + 11] & 0xFF;
            }
            i = end;
            if (m == 0xDA) {
                // entropy-coded data: FF 00 is a stuffed FF, FF D0..D7 a restart marker, anything else the next marker
                while (true) {
                    if (i + 1 >= n) {
                        return imageIo(width, height, "ends inside a scan");
                    }
                    if ((b[i] & 0xFF) == 0xFF) {
                        int x = b[i + 1] & 0xFF;
                        if (x != 0x00 && (x < 0xD0 || x > 0xD7) && x != 0xFF) {
                            break;
                        }
                        i += x == 0xFF ? 1 : 2;
                    } else {
                        i++;
                    }
                }
            }
        }
        if (sof < 0) {
            return imageIo(width, height, "no frame header");
        }
        if (sof != 0xC0 && sof != 0xC1 && sof != 0xC2) {
            return imageIo(width, height, "not Huffman-coded baseline, extended or progressive");
        }
        if (precision != 8) {
            return imageIo(width, height, precision + "-bit samples");
        }
        if (components != 1 && components != 3) {
            return imageIo(width, height, components + " components");
        }
        if (icc) {
            return imageIo(width, height, "an embedded ICC profile");
        }
        if (components == 3 && (rgbIds || (adobeTransform != -2 && adobeTransform != 1))) {
            return imageIo(width, height, "RGB rather than YCbCr components");
        }
        if (width <= 0 || height <= 0) {
            return imageIo(width, height, "no size in the frame header");
        }
        return new EncodedStructure(width, height, true, components == 1, null);
    }

    /** Walks a PNG's chunks from IHDR to IEND (lengths only; the decoder checks the CRCs). */
    static EncodedStructure png(byte[] b) {
        int n = b.length;
        if (n < 33 || !isChunk(b, 12, "IHDR") || u32(b, 8) != 13) {
            return imageIo(-1, -1, "no IHDR chunk first");
        }
        long w = u32(b, 16);
        long h = u32(b, 20);
        int width = w > Integer.MAX_VALUE ? Integer.MAX_VALUE : (int) w;
        int height = h > Integer.MAX_VALUE ? Integer.MAX_VALUE : (int) h;
        int depth = b[24] & 0xFF;
        int colourType = b[25] & 0xFF;
        boolean icc = false;
        long i = 8;
        while (true) {
            if (i + 12 > n) {
                return imageIo(width, height, "ends before its IEND chunk");
            }
            long length = u32(b, (int) i);
            int type = (int) i + 4;
            if (isChunk(b, type, "iCCP")) {
                icc = true;
            }
            if (isChunk(b, type, "IEND")) {
                break;
            }
            i += 12 + length;
        }
        if (width <= 0 || height <= 0) {
            return imageIo(width, height, "no size in IHDR");
        }
        if (icc) {
            return imageIo(width, height, "an embedded ICC profile");
        }
        if (depth != 8 && depth != 16 && !(colourType == 3 && depth < 8)) {
            // 1, 2 and 4-bit gray: ImageIO reads a gray palette, whose luminance is not exactly the gray value
            return imageIo(width, height, depth + "-bit samples of colour type " + colourType);
        }
        if (colourType != 0 && colourType != 2 && colourType != 3 && colourType != 4 && colourType != 6) {
            return imageIo(width, height, "colour type " + colourType);
        }
        return new EncodedStructure(width, height, true, colourType == 0 || colourType == 4, null);
    }

    private static boolean isChunk(byte[] b, int at, String type) {
        for (int k = 0; k < 4; k++) {
            if (b[at + k] != type.charAt(k)) {
                return false;
            }
        }
        return true;
    }

    private static boolean startsWith(byte[] b, int at, int end, byte[] prefix) {
        if (end - at < prefix.length) {
            return false;
        }
        for (int k = 0; k < prefix.length; k++) {
            if (b[at + k] != prefix[k]) {
                return false;
            }
        }
        return true;
    }

    private static int u16(byte[] b, int at) {
        return (b[at] & 0xFF) << 8 | (b[at + 1] & 0xFF);
    }

    private static long u32(byte[] b, int at) {
        return (long) (b[at] & 0xFF) << 24 | (b[at + 1] & 0xFF) << 16 | (b[at + 2] & 0xFF) << 8 | (b[at + 3] & 0xFF);
    }
}
