package io.medfuse.worker.it;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.Transparency;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.Raster;
import java.awt.image.WritableRaster;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriter;
import javax.imageio.stream.MemoryCacheImageOutputStream;

import io.medfuse.testkit.DicomBuilder;
import io.medfuse.testkit.SampleRequests;

/**
 * Writes the bad-input corpus under {@code src/test/resources/bad-inputs/} (run once by hand; the files are
 * committed, so the corpus does not change when ImageIO does): one folder per case with a {@code case.properties}
 * descriptor (what to send, what must come back) and the image or record bytes. {@link BadInputCorpusIT} reads it.
 *
 * <p>Usage: {@code java -cp <test classpath> io.medfuse.worker.it.BadInputCorpusWriter worker/src/test/resources/bad-inputs}
 * writes every case; {@code ... BadInputCorpusWriter worker/src/test/resources/bad-inputs --dicom
 * model/src/test/resources/dicom/independent} writes only the {@code dicom-*} cases, from the objects other
 * implementations made.
 */
public final class BadInputCorpusWriter {

    private final Path root;

    private BadInputCorpusWriter(Path root) {
        this.root = root;
    }

    public static void main(String[] args) throws IOException {
        BadInputCorpusWriter writer = new BadInputCorpusWriter(Path.of(args[0]));
        if (args.length == 3 && args[1].equals("--dicom")) {
            writer.writeDicomCases(Path.of(args[2]));
        } else {
            writer.writeAll();
        }
    }

    /** Patient identifiers seeded into DICOM cases; BadInputCorpusIT checks no answer carries them. */
    static final List<String> SEEDED_PATIENT_VALUES = List.of("Doe^Jane", "MRN-4711-0815", "19580317");

    /**
     * The bad-DICOM corpus: objects other implementations made (gdcm, dcmtk), cut and bent at every structural point,
     * and objects no tool would write (DicomBuilder). Each is a typed dead letter or a prediction.
     */
    private void writeDicomCases(Path independent) throws IOException {
        Map<String, String> f = fields("47", "female", "back");
        byte[] rgb = Files.readAllBytes(independent.resolve("rgb8-explicit.dcm"));
        byte[] jpeg = Files.readAllBytes(independent.resolve("rgb8-jpeg-baseline.dcm"));
        byte[] rle = Files.readAllBytes(independent.resolve("rgb8-rle.dcm"));
        byte[] deflated = Files.readAllBytes(independent.resolve("rgb8-deflated.dcm"));
        String[][] ok = {
                {"rgb8-explicit", "RGB, Explicit VR Little Endian (gdcmimg)"},
                {"rgb8-implicit", "RGB, Implicit VR Little Endian (dcmconv +ti)"},
                {"rgb8-deflated", "RGB, Deflated Explicit VR Little Endian (dcmconv +td)"},
                {"rgb8-rle", "RGB, RLE Lossless (dcmcrle)"},
                {"rgb8-jpeg-baseline", "YBR_FULL_422 JPEG Baseline (dcmcjpeg +eb)"},
                {"gray12-window", "12-bit MONOCHROME2 with a window (dcmodify)"},
                {"signed16-rescale-window", "signed 16-bit MONOCHROME2 with rescale and window"},
                {"gray8-3frames", "three frames of 8-bit MONOCHROME2 (frame 0 is classified)"},
        };
        for (String[] o : ok) {
            request("dicom-ok-" + o[0], "control: " + o[1], Files.readAllBytes(independent.resolve(o[0] + ".dcm")),
                    "application/dicom", f, "prediction", null, "");
        }
        request("dicom-ok-media-type-parameters", "application/dicom with a transfer-syntax parameter", rgb,
                "application/dicom; transfer-syntax=1.2.840.10008.1.2.1", f, "prediction", null, "");
        String[][] unsupported = {
                {"unsupported-big-endian", "Explicit VR Big Endian (dcmconv +tb)"},
                {"unsupported-jpeg-lossless", "JPEG Lossless, Process 14 (dcmcjpeg +el)"},
                {"unsupported-jpeg2000", "JPEG 2000 (gdcmconv --j2k)"},
                {"unsupported-jpegls", "JPEG-LS (gdcmconv --jpegls)"},
        };
        for (String[] u : unsupported) {
            request("dicom-" + u[0], u[1], Files.readAllBytes(independent.resolve(u[0] + ".dcm")),
                    "application/dicom", f, "dead-letter", "UNSUPPORTED_TRANSFER_SYNTAX", null);
        }
        request("dicom-unknown-transfer-syntax", "a transfer syntax UID no standard defines (1.2.3.4.5.6)",
                DicomBuilder.part10("1.2.3.4.5.6").pixelModule(8, 8, 3, "RGB")
                        .element(0x7FE0_0010, "OB", new byte[192]).bytes(),
                "application/dicom", f, "dead-letter", "UNSUPPORTED_TRANSFER_SYNTAX", null);

        int pixelTag = indexOf(rgb, new byte[] {(byte) 0xE0, 0x7F, 0x10, 0x00});
        undecodable("dicom-truncated-in-preamble", "the first 100 bytes of an object", Arrays.copyOf(rgb, 100), f);
        undecodable("dicom-truncated-in-meta-group", "cut inside the file meta group", Arrays.copyOf(rgb, 150), f);
        undecodable("dicom-truncated-in-element-header", "cut inside the Pixel Data element's header",
                Arrays.copyOf(rgb, pixelTag + 6), f);
        undecodable("dicom-truncated-in-pixel-data", "cut in the middle of the pixel data",
                Arrays.copyOf(rgb, rgb.length - 1800), f);
        undecodable("dicom-truncated-in-jpeg-fragment", "a JPEG object cut inside its fragment",
                Arrays.copyOf(jpeg, jpeg.length - 300), f);
        undecodable("dicom-truncated-in-rle-fragment", "an RLE object cut inside its fragment",
                Arrays.copyOf(rle, rle.length - 500), f);
        undecodable("dicom-deflated-truncated", "a deflated object cut in its compressed stream",
                Arrays.copyOf(deflated, deflated.length - 1000), f);
        undecodable("dicom-no-preamble", "a dataset without the 128-byte preamble and DICM",
                Arrays.copyOfRange(rgb, 132, rgb.length), f);
        byte[] noMagic = rgb.clone();
        noMagic[131] = 'X';
        undecodable("dicom-no-dicm-magic", "a preamble followed by DICX instead of DICM", noMagic, f);
        byte[] noTs = DicomBuilder.part10(DicomBuilder.EXPLICIT_LE).bytes();
        int tsTag = indexOf(noTs, new byte[] {0x02, 0x00, 0x10, 0x00});
        noTs[tsTag + 2] = 0x11; // (0002,0010) becomes (0002,0011): there is no transfer syntax
        undecodable("dicom-no-transfer-syntax", "a file meta group without TransferSyntaxUID", noTs, f);
        byte[] lyingElement = rgb.clone();
        int rows = indexOf(lyingElement, new byte[] {0x28, 0x00, 0x10, 0x00, 'U', 'S'});
        lyingElement[rows + 6] = (byte) 0xF0;
        lyingElement[rows + 7] = (byte) 0xFF;
        undecodable("dicom-element-length-lying", "Rows claims 65520 bytes in an object of 4400", lyingElement, f);
        byte[] lyingPixels = rgb.clone();
        lyingPixels[pixelTag + 8] = (byte) 0xF0;
        lyingPixels[pixelTag + 9] = (byte) 0xFF;
        lyingPixels[pixelTag + 10] = (byte) 0xFF;
        lyingPixels[pixelTag + 11] = 0x7F;
        undecodable("dicom-pixel-data-length-lying", "Pixel Data claims 2 GB", lyingPixels, f);
        request("dicom-rows-columns-65535", "a 200-byte object whose header says 65535 x 65535 RGB",
                DicomBuilder.part10(DicomBuilder.EXPLICIT_LE).pixelModule(65535, 65535, 3, "RGB")
                        .element(0x7FE0_0010, "OB", new byte[12]).bytes(),
                "application/dicom", f, "dead-letter", "IMAGE_TOO_LARGE", null);
        request("dicom-frames-1000000", "8 x 8 RGB with NumberOfFrames 1000000 (192 M samples)",
                DicomBuilder.part10(DicomBuilder.EXPLICIT_LE).string(0x0028_0008, "IS", "1000000")
                        .pixelModule(8, 8, 3, "RGB").element(0x7FE0_0010, "OB", new byte[192]).bytes(),
                "application/dicom", f, "dead-letter", "IMAGE_TOO_LARGE", null);
        // 10,000 levels take 360 KB, over this test's image.max.bytes; deflated they take 1 KB, and the worker
        // still has to refuse the nesting after inflating (DicomParserTest has the plain form)
        DicomBuilder deep = DicomBuilder.dataset(true);
        for (int i = 0; i < 10_000; i++) {
            deep.header(0x0040_A730, "SQ", 0xFFFF_FFFFL).item(0xFFFE_E000, 0xFFFF_FFFFL);
        }
        for (int i = 0; i < 10_000; i++) {
            deep.item(0xFFFE_E00D, 0).item(0xFFFE_E0DD, 0);
        }
        deep.pixelModule(8, 8, 3, "RGB").element(0x7FE0_0010, "OB", new byte[192]);
        undecodable("dicom-sequence-nested-10000", "sequences nested 10,000 deep (undefined lengths; deflated "
                + "to 1 KB)", DicomBuilder.part10("1.2.840.10008.1.2.1.99").raw(rawDeflate(deep.bytes())).bytes(), f);
        undecodable("dicom-sequence-without-delimiter", "a sequence of undefined length that never ends",
                DicomBuilder.part10(DicomBuilder.EXPLICIT_LE).pixelModule(8, 8, 3, "RGB")
                        .header(0x0008_2218, "SQ", 0xFFFF_FFFFL).item(0xFFFE_E000, 0xFFFF_FFFFL)
                        .string(0x0008_0100, "SH", "T-D4000").bytes(), f);
        undecodable("dicom-no-pixel-data", "an image pixel module but no Pixel Data",
                DicomBuilder.part10(DicomBuilder.EXPLICIT_LE).pixelModule(8, 8, 3, "RGB").bytes(), f);
        undecodable("dicom-encapsulated-no-fragments", "JPEG Baseline pixel data with only the offset table",
                DicomBuilder.part10(DicomBuilder.JPEG_BASELINE).pixelModule(8, 8, 3, "YBR_FULL_422")
                        .encapsulated().bytes(), f);
        undecodable("dicom-encapsulated-garbage-fragment", "JPEG Baseline pixel data whose fragment is not JPEG",
                DicomBuilder.part10(DicomBuilder.JPEG_BASELINE).pixelModule(8, 8, 3, "YBR_FULL_422")
                        .encapsulated("this is not a JPEG stream".getBytes(StandardCharsets.US_ASCII)).bytes(), f);
        byte[] noDelimiter = Arrays.copyOf(jpeg, jpeg.length - 8);
        undecodable("dicom-encapsulated-no-delimiter", "encapsulated pixel data without its sequence delimiter",
                noDelimiter, f);
        byte[] rleHeader = new byte[64 + 8];
        rleHeader[0] = 7; // seven segments where RGB needs three
        rleHeader[4] = 64;
        undecodable("dicom-rle-wrong-segment-count", "an RLE frame with 7 segments for 3 samples",
                DicomBuilder.part10(DicomBuilder.RLE).pixelModule(8, 8, 3, "RGB").encapsulated(rleHeader).bytes(),
                f);
        undecodable("dicom-photometric-palette-color", "PALETTE COLOR (not converted)",
                DicomBuilder.part10(DicomBuilder.EXPLICIT_LE).pixelModule(8, 8, 1, "PALETTE COLOR")
                        .element(0x7FE0_0010, "OB", new byte[64]).bytes(), f);
        DicomBuilder bits32 = DicomBuilder.part10(DicomBuilder.EXPLICIT_LE).us(0x0028_0002, 1)
                .string(0x0028_0004, "CS", "MONOCHROME2").us(0x0028_0010, 8).us(0x0028_0011, 8)
                .us(0x0028_0100, 32).us(0x0028_0101, 32).us(0x0028_0102, 31).us(0x0028_0103, 0)
                .element(0x7FE0_0010, "OB", new byte[256]);
        undecodable("dicom-bits-allocated-32", "32 bits allocated per sample", bits32.bytes(), f);
        request("dicom-declared-png", "a DICOM object sent as image/png", rgb, "image/png", f, "dead-letter",
                "IMAGE_UNDECODABLE", null);
        undecodable("dicom-patient-tags-then-corrupt", "PatientName, PatientID and PatientBirthDate, then a "
                + "corrupt element: the answer names none of them",
                DicomBuilder.part10(DicomBuilder.EXPLICIT_LE).string(0x0010_0010, "PN", SEEDED_PATIENT_VALUES.get(0))
                        .string(0x0010_0020, "LO", SEEDED_PATIENT_VALUES.get(1))
                        .string(0x0010_0030, "DA", SEEDED_PATIENT_VALUES.get(2))
                        .raw(new byte[] {0x10, 0x00, 0x40, 0x00, 'c', 's'}).bytes(), f);
    }

    private void undecodable(String name, String description, byte[] dicom, Map<String, String> fields)
            throws IOException {
        request(name, description, dicom, "application/dicom", fields, "dead-letter", "IMAGE_UNDECODABLE", null);
    }

    private static byte[] rawDeflate(byte[] data) {
        Deflater d = new Deflater(Deflater.BEST_COMPRESSION, true);
        d.setInput(data);
        d.finish();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] chunk = new byte[8192];
        while (!d.finished()) {
            out.write(chunk, 0, d.deflate(chunk));
        }
        d.end();
        return out.toByteArray();
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new IllegalArgumentException("pattern not found");
    }

    private void writeAll() throws IOException {
        SampleRequests png = new SampleRequests(7, 64, "image/png");
        SampleRequests jpg = new SampleRequests(7, 64, "image/jpeg");
        byte[] okPng = png.image(1);
        byte[] okJpg = jpg.image(2);

        request("ok-png-rgb", "control: an ordinary RGB PNG with every field", okPng, "image/png",
                fields("47", "female", "back"), "prediction", null, "");
        request("ok-jpeg-rgb", "control: an ordinary RGB JPEG with every field", okJpg, "image/jpeg",
                fields("47", "male", "face"), "prediction", null, "");
        request("png-truncated", "a PNG cut in the middle of its image data", Arrays.copyOf(okPng, okPng.length / 2),
                "image/png", fields("47", "female", "back"), "dead-letter", "IMAGE_UNDECODABLE", null);
        request("jpeg-truncated", "a JPEG cut in the middle of its scan", Arrays.copyOf(okJpg, okJpg.length / 2),
                "image/jpeg", fields("47", "female", "back"), "dead-letter", "IMAGE_UNDECODABLE", null);
        request("image-zero-length", "inline image data of 0 bytes", new byte[0], "image/png",
                fields("47", "female", "back"), "dead-letter", "IMAGE_MISSING", null);
        request("png-header-100000x100000", "a 100-byte PNG whose IHDR claims 100000 x 100000 pixels",
                hugePng(), "image/png", fields("47", "female", "back"), "dead-letter", "IMAGE_TOO_LARGE", null);
        request("jpeg-header-65535x65535", "a small JPEG whose SOF claims 65535 x 65535 pixels (the JPEG maximum)",
                hugeJpeg(okJpg), "image/jpeg", fields("47", "female", "back"), "dead-letter", "IMAGE_TOO_LARGE",
                null);
        request("jpeg-cmyk", "a 4-channel (CMYK) JPEG", cmykJpeg(), "image/jpeg", fields("47", "female", "back"),
                "prediction", null, "");
        request("png-16bit-gray", "a 16-bit grayscale PNG", encode(gray16(), "png"), "image/png",
                fields("47", "female", "back"), "prediction", null, "");
        request("png-16bit-rgb", "a 16-bit-per-channel RGB PNG", encode(rgb16(), "png"), "image/png",
                fields("47", "female", "back"), "prediction", null, "");
        request("png-palette", "a palette (indexed colour) PNG", encode(convert(okPng,
                BufferedImage.TYPE_BYTE_INDEXED), "png"), "image/png", fields("47", "female", "back"),
                "prediction", null, "");
        request("png-grayscale-8bit", "an 8-bit grayscale PNG", encode(convert(okPng, BufferedImage.TYPE_BYTE_GRAY),
                "png"), "image/png", fields("47", "female", "back"), "prediction", null, "");
        request("jpeg-grayscale", "a grayscale JPEG", encode(convert(okPng, BufferedImage.TYPE_BYTE_GRAY), "jpg"),
                "image/jpeg", fields("47", "female", "back"), "prediction", null, "");
        request("png-rgba", "an RGBA PNG with a transparent half (alpha is ignored)", encode(rgba(okPng), "png"),
                "image/png", fields("47", "female", "back"), "prediction", null, "");
        request("png-over-size-limit", "a noise PNG of about 120 KB, over image.max.bytes = 100000 in this test",
                encode(noise(200), "png"), "image/png", fields("47", "female", "back"), "dead-letter",
                "IMAGE_TOO_LARGE", null);
        request("png-declared-jpeg", "PNG bytes sent as image/jpeg", okPng, "image/jpeg",
                fields("47", "female", "back"), "dead-letter", "IMAGE_UNDECODABLE", null);
        request("text-declared-png", "plain text sent as image/png", "this is not an image".getBytes(
                StandardCharsets.UTF_8), "image/png", fields("47", "female", "back"), "dead-letter",
                "IMAGE_UNDECODABLE", null);
        request("media-type-gif", "a GIF (unsupported media type)", encode(convert(okPng,
                BufferedImage.TYPE_BYTE_INDEXED), "gif"), "image/gif", fields("47", "female", "back"),
                "dead-letter", "UNSUPPORTED_MEDIA_TYPE", null);
        request("media-type-dicom", "PNG bytes sent as application/dicom", okPng, "application/dicom",
                fields("47", "female", "back"), "dead-letter", "IMAGE_UNDECODABLE", null);
        request("age-nan", "patient.ageYears = NaN", okPng, "image/png", fields("NaN", "female", "back"),
                "dead-letter", "INVALID_FIELD", null);
        request("age-negative", "patient.ageYears = -1", okPng, "image/png", fields("-1", "female", "back"),
                "dead-letter", "INVALID_FIELD", null);
        request("age-300", "patient.ageYears = 300", okPng, "image/png", fields("300", "female", "back"),
                "dead-letter", "INVALID_FIELD", null);
        request("age-infinite", "patient.ageYears = Infinity", okPng, "image/png",
                fields("Infinity", "female", "back"), "dead-letter", "INVALID_FIELD", null);
        request("age-missing", "no age: imputed and flagged", okPng, "image/png", fields(null, "female", "back"),
                "prediction", null, "age:imputed");
        request("sex-unknown-value", "patient.sex = 'x-unknown-value': the unknown slot, flagged", okPng,
                "image/png", fields("47", "x-unknown-value", "back"), "prediction", null, "sex:unknown");
        request("sex-upper-case", "patient.sex = 'FEMALE' (case-insensitive)", okPng, "image/png",
                fields("47", "FEMALE", "back"), "prediction", null, "");
        request("localization-unknown-value", "clinical.localization = 'elbow-tip' (not in the vocabulary)", okPng,
                "image/png", fields("47", "female", "elbow-tip"), "prediction", null, "localization:unknown");
        Map<String, String> noPatient = fields("47", "female", "back");
        noPatient.put("patient", "none");
        noPatient.remove("clinical.localization");
        request("patient-and-clinical-missing", "no patient record and no clinical values: all imputed", okPng,
                "image/png", noPatient, "prediction", null, "age:imputed,sex:imputed,localization:imputed");
        Map<String, String> numericSite = fields("47", "female", null);
        numericSite.put("clinical.localization", "number:12.5");
        request("localization-a-number", "clinical.localization sent as the number 12.5", okPng, "image/png",
                numericSite, "prediction", null, "localization:unknown");
        Map<String, String> emptyId = fields("47", "female", "back");
        emptyId.put("requestId", "");
        request("request-id-empty", "requestId is the empty string", okPng, "image/png", emptyId, "dead-letter",
                "INVALID_FIELD", null);
        Map<String, String> both = fields("47", "female", "back");
        both.put("reference", "file:{case}/image.bin");
        request("image-data-and-reference", "both inline data and a reference", okPng, "image/png", both,
                "dead-letter", "INVALID_FIELD", null);
        Map<String, String> none = fields("47", "female", "back");
        request("image-neither-data-nor-reference", "an image with neither data nor reference", null, "image/png",
                none, "dead-letter", "IMAGE_MISSING", null);
        Map<String, String> refOk = fields("47", "female", "back");
        refOk.put("reference", "file:{case}/image.bin");
        refOk.put("referenceSha256", sha256(okPng));
        referenced("reference-file-ok", "a file: reference with the right sha256", okPng, refOk, "prediction", null,
                "");
        Map<String, String> refMissing = fields("47", "female", "back");
        refMissing.put("reference", "file:{case}/no-such-image.png");
        referenced("reference-missing-file", "a file: reference to a file that does not exist", null, refMissing,
                "dead-letter", "REFERENCE_UNREACHABLE", null);
        Map<String, String> refHttp = fields("47", "female", "back");
        refHttp.put("reference", "http://127.0.0.1:{closedPort}/image.png");
        referenced("reference-unreachable-url", "an http: reference to an allowed server whose port is closed", null,
                refHttp, "dead-letter", "REFERENCE_UNREACHABLE", null);
        Map<String, String> refSha = fields("47", "female", "back");
        refSha.put("reference", "file:{case}/image.bin");
        refSha.put("referenceSha256", "0".repeat(64));
        referenced("reference-sha256-mismatch", "a file: reference whose sha256 does not match the file", okPng,
                refSha, "dead-letter", "REFERENCE_MISMATCH", null);
        Map<String, String> refFtp = fields("47", "female", "back");
        refFtp.put("reference", "ftp://example.org/image.png");
        referenced("reference-scheme-ftp", "an ftp: reference (scheme not allowed)", null, refFtp, "dead-letter",
                "REFERENCE_REFUSED", null);
        Map<String, String> refBadSha = fields("47", "female", "back");
        refBadSha.put("reference", "file:{case}/image.bin");
        refBadSha.put("referenceSha256", "not-hex");
        referenced("reference-sha256-malformed", "a reference whose sha256 is not 64 hex digits", okPng, refBadSha,
                "dead-letter", "INVALID_FIELD", null);

        writeHostileReferences(okPng);

        raw("record-not-avro-json", "a JSON document instead of Avro", "{\"requestId\":\"json-1\",\"age\":47}"
                .getBytes(StandardCharsets.UTF_8), "UNDESERIALIZABLE");
        raw("record-empty", "a record value of 0 bytes", new byte[0], "UNDESERIALIZABLE");
        raw("record-wrong-magic-byte", "Confluent framing with magic byte 0x01", new byte[] {1, 0, 0, 0, 1, 2, 4, 6},
                "UNDESERIALIZABLE");
        raw("record-header-only", "a 3-byte value, shorter than the 5-byte header", new byte[] {0, 0, 0},
                "UNDESERIALIZABLE");
        raw("record-unknown-schema-id", "Confluent framing with schema id 32529 that the registry never issued",
                new byte[] {0, 0, 0, 0x7f, 0x11, 2, 4, 6, 8}, "UNKNOWN_SCHEMA");
        Map<String, String> truncated = fields("47", "female", "back");
        truncated.put("wireTruncate", "30");
        request("record-truncated-avro", "a valid request's record cut after 30 bytes", okPng, "image/png",
                truncated, "dead-letter", "UNDESERIALIZABLE", null);
        avro("avro-of-another-schema", "Avro of an unrelated registered schema (an invoice)",
                "{\"type\":\"record\",\"name\":\"Invoice\",\"namespace\":\"org.example\",\"fields\":["
                        + "{\"name\":\"number\",\"type\":\"string\"},{\"name\":\"amount\",\"type\":\"double\"}]}",
                "{\"number\":\"INV-1\",\"amount\":12.5}", "UNKNOWN_SCHEMA");
        avro("avro-missing-required-fields", "an ImagingRequest schema without requestedAt and image",
                "{\"type\":\"record\",\"name\":\"ImagingRequest\",\"namespace\":\"io.medfuse.events\",\"fields\":["
                        + "{\"name\":\"requestId\",\"type\":\"string\"}]}",
                "{\"requestId\":\"avro-missing-required-fields\"}", "UNKNOWN_SCHEMA");
    }

    /**
     * References a hostile producer would send (issue: trust at the edges). Placeholders the IT fills in:
     * {@code {case}} the case folder, {@code {runtime}} a folder the IT makes with a FIFO and symbolic links to
     * /dev/zero and /proc/self/environ, {@code {hostile}} the port of the IT's misbehaving HTTP server (allowed),
     * {@code {closedPort}} an allowed port nothing listens on, {@code {metricsPort}} the worker's own metrics port.
     */
    private void writeHostileReferences(byte[] okPng) throws IOException {
        hostile("reference-traversal", "file: reference climbing out of its folder with ..",
                "file:{case}/../../../../../../../../etc/passwd", "REFERENCE_REFUSED");
        hostile("reference-outside-roots", "file: reference to /etc/passwd", "file:///etc/passwd",
                "REFERENCE_REFUSED");
        hostile("reference-proc-environ", "file: reference to /proc/self/environ", "file:///proc/self/environ",
                "REFERENCE_REFUSED");
        hostile("reference-fifo", "file: reference to a FIFO inside an allowed folder (would block a reader)",
                "file:{runtime}/pipe.png", "REFERENCE_REFUSED");
        hostile("reference-device-symlink", "symbolic link inside an allowed folder to /dev/zero",
                "file:{runtime}/zero.png", "REFERENCE_REFUSED");
        hostile("reference-proc-symlink", "symbolic link inside an allowed folder to /proc/self/environ",
                "file:{runtime}/environ.png", "REFERENCE_REFUSED");
        hostile("reference-directory", "file: reference to a folder", "file:{case}", "REFERENCE_REFUSED");
        hostile("reference-http-loopback", "http: reference to the worker's own metrics port on 127.0.0.1 "
                + "(not allowed)", "http://127.0.0.1:{metricsPort}/metrics", "REFERENCE_REFUSED");
        hostile("reference-http-ipv6-loopback", "http: reference to [::1] (not allowed)",
                "http://[::1]:{hostile}/ok.png", "REFERENCE_REFUSED");
        hostile("reference-http-metadata", "http: reference to the cloud metadata address 169.254.169.254",
                "http://169.254.169.254/latest/meta-data/", "REFERENCE_REFUSED");
        hostile("reference-redirect-internal", "allowed server redirecting to the worker's metrics port",
                "http://127.0.0.1:{hostile}/redirect-internal", "REFERENCE_REFUSED");
        hostile("reference-redirect-file", "allowed server redirecting to file:///etc/passwd",
                "http://127.0.0.1:{hostile}/redirect-file", "REFERENCE_REFUSED");
        hostile("reference-stalled-body", "allowed server sending 200 and headers, then stalling the body",
                "http://127.0.0.1:{hostile}/stall", "REFERENCE_UNREACHABLE");
        hostile("reference-slow-drip", "allowed server sending the body one byte every 100 ms",
                "http://127.0.0.1:{hostile}/drip", "REFERENCE_UNREACHABLE");
        hostile("reference-endless-body", "allowed server sending an endless chunked body",
                "http://127.0.0.1:{hostile}/endless", "IMAGE_TOO_LARGE");
        hostile("reference-http-404-query", "allowed server answering 404; the query string carries a token",
                "http://127.0.0.1:{hostile}/missing.png?token=SECRET-TOKEN-42", "REFERENCE_UNREACHABLE");
        hostile("reference-http-user-info", "http: reference carrying user:password",
                "http://alice:SECRET-PASSWORD@127.0.0.1:{hostile}/ok.png", "INVALID_FIELD");
        Map<String, String> httpOk = fields("47", "female", "back");
        httpOk.put("reference", "http://127.0.0.1:{hostile}/ok.png");
        httpOk.put("referenceSha256", sha256(okPng));
        referenced("reference-http-ok", "an http: reference to an allowed server, right sha256", okPng, httpOk,
                "prediction", null, "");
        Map<String, String> same = fields("47", "female", "back");
        same.put("repeat", "same");
        request("duplicate-id-same-content", "the same request sent twice (a producer retry)", okPng, "image/png",
                same, "prediction", null, "");
        Map<String, String> other = fields("47", "female", "back");
        other.put("repeat", "other");
        request("duplicate-id-other-content", "a second request reusing the first one's id with another age",
                okPng, "image/png", other, "prediction", null, "");
    }

    private void hostile(String name, String description, String reference, String reason) throws IOException {
        Map<String, String> f = fields("47", "female", "back");
        f.put("reference", reference);
        referenced(name, description, null, f, "dead-letter", reason, null);
    }

    private static Map<String, String> fields(String age, String sex, String site) {
        Map<String, String> m = new LinkedHashMap<>();
        if (age != null) {
            m.put("age", age);
        }
        if (sex != null) {
            m.put("sex", sex);
        }
        if (site != null) {
            m.put("clinical.localization", site);
        }
        return m;
    }

    private void request(String name, String description, byte[] image, String mediaType,
                         Map<String, String> fields, String expect, String reason, String flags) throws IOException {
        Map<String, String> d = new LinkedHashMap<>();
        d.put("description", description);
        d.put("kind", "request");
        d.put("mediaType", mediaType);
        if (image != null) {
            d.put("data", "image.bin");
        }
        d.putAll(fields);
        write(name, d, expect, reason, flags, image);
    }

    private void referenced(String name, String description, byte[] file, Map<String, String> fields, String expect,
                            String reason, String flags) throws IOException {
        Map<String, String> d = new LinkedHashMap<>();
        d.put("description", description);
        d.put("kind", "request");
        d.put("mediaType", "image/png");
        d.putAll(fields);
        write(name, d, expect, reason, flags, file);
    }

    private void raw(String name, String description, byte[] value, String reason) throws IOException {
        Map<String, String> d = new LinkedHashMap<>();
        d.put("description", description);
        d.put("kind", "raw");
        d.put("value", "record.bin");
        Path dir = Files.createDirectories(root.resolve(name));
        Files.write(dir.resolve("record.bin"), value);
        write(name, d, "dead-letter", reason, null, null);
    }

    private void avro(String name, String description, String schema, String datumJson, String reason)
            throws IOException {
        Map<String, String> d = new LinkedHashMap<>();
        d.put("description", description);
        d.put("kind", "avro");
        d.put("writerSchema", "writer.avsc");
        d.put("datum", "datum.json");
        Path dir = Files.createDirectories(root.resolve(name));
        Files.writeString(dir.resolve("writer.avsc"), schema + "\n");
        Files.writeString(dir.resolve("datum.json"), datumJson + "\n");
        write(name, d, "dead-letter", reason, null, null);
    }

    private void write(String name, Map<String, String> d, String expect, String reason, String flags, byte[] image)
            throws IOException {
        Path dir = Files.createDirectories(root.resolve(name));
        if (image != null) {
            Files.write(dir.resolve("image.bin"), image);
        }
        d.put("expect", expect);
        if (reason != null) {
            d.put("reason", reason);
        }
        if (flags != null) {
            d.put("flags", flags);
        }
        try (Writer w = Files.newBufferedWriter(dir.resolve("case.properties"))) {
            w.write("# bad-input corpus case, written by BadInputCorpusWriter; read by BadInputCorpusIT\n");
            for (var e : d.entrySet()) {
                w.write(e.getKey() + "=" + e.getValue().replace("\\", "\\\\") + "\n");
            }
        }
    }

    private static byte[] hugePng() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        DataOutputStream data = new DataOutputStream(out);
        data.write(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        ByteArrayOutputStream ihdr = new ByteArrayOutputStream();
        DataOutputStream h = new DataOutputStream(ihdr);
        h.writeInt(100_000);
        h.writeInt(100_000);
        h.write(new byte[] {8, 2, 0, 0, 0});
        chunk(data, "IHDR", ihdr.toByteArray());
        Deflater deflater = new Deflater();
        deflater.setInput(new byte[64]);
        deflater.finish();
        byte[] buf = new byte[128];
        int n = deflater.deflate(buf);
        chunk(data, "IDAT", Arrays.copyOf(buf, n));
        chunk(data, "IEND", new byte[0]);
        return out.toByteArray();
    }

    private static void chunk(DataOutputStream out, String type, byte[] body) throws IOException {
        out.writeInt(body.length);
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        out.write(t);
        out.write(body);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(body);
        out.writeInt((int) crc.getValue());
    }

    private static byte[] hugeJpeg(byte[] jpeg) {
        byte[] b = jpeg.clone();
        for (int i = 2; i + 9 < b.length; i++) {
            if ((b[i] & 0xff) == 0xff && ((b[i + 1] & 0xff) == 0xc0 || (b[i + 1] & 0xff) == 0xc2)) {
                // FFC0 len(2) precision(1) height(2) width(2)
                b[i + 5] = (byte) 0xff;
                b[i + 6] = (byte) 0xff;
                b[i + 7] = (byte) 0xff;
                b[i + 8] = (byte) 0xff;
                return b;
            }
        }
        throw new IllegalStateException("no SOF marker");
    }

    private static byte[] cmykJpeg() throws IOException {
        WritableRaster raster = Raster.createInterleavedRaster(DataBuffer.TYPE_BYTE, 64, 64, 4, null);
        Random r = new Random(4);
        for (int y = 0; y < 64; y++) {
            for (int x = 0; x < 64; x++) {
                boolean blob = (x - 32) * (x - 32) + (y - 32) * (y - 32) < 300;
                raster.setPixel(x, y, new int[] {blob ? 120 : 10, blob ? 160 : 60, blob ? 180 : 80, r.nextInt(20)});
            }
        }
        ImageWriter writer = ImageIO.getImageWritersByFormatName("jpeg").next();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (MemoryCacheImageOutputStream ios = new MemoryCacheImageOutputStream(out)) {
            writer.setOutput(ios);
            writer.write(null, new IIOImage(raster, null, null), null);
        } finally {
            writer.dispose();
        }
        return out.toByteArray();
    }

    private static BufferedImage gray16() {
        BufferedImage img = new BufferedImage(64, 64, BufferedImage.TYPE_USHORT_GRAY);
        WritableRaster raster = img.getRaster();
        for (int y = 0; y < 64; y++) {
            for (int x = 0; x < 64; x++) {
                raster.setSample(x, y, 0, (x * 1000 + y * 17) & 0xffff);
            }
        }
        return img;
    }

    private static BufferedImage rgb16() {
        ComponentColorModel cm = new ComponentColorModel(ColorSpace.getInstance(ColorSpace.CS_sRGB), false, false,
                Transparency.OPAQUE, DataBuffer.TYPE_USHORT);
        WritableRaster raster = cm.createCompatibleWritableRaster(64, 64);
        for (int y = 0; y < 64; y++) {
            for (int x = 0; x < 64; x++) {
                raster.setPixel(x, y, new int[] {x * 1000, y * 1000, 40000});
            }
        }
        return new BufferedImage(cm, raster, false, null);
    }

    private static BufferedImage noise(int size) {
        BufferedImage img = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
        Random r = new Random(9);
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                img.setRGB(x, y, r.nextInt(0x1000000));
            }
        }
        return img;
    }

    private static BufferedImage rgba(byte[] png) throws IOException {
        BufferedImage src = ImageIO.read(new java.io.ByteArrayInputStream(png));
        BufferedImage img = new BufferedImage(src.getWidth(), src.getHeight(), BufferedImage.TYPE_INT_ARGB);
        Graphics2D g = img.createGraphics();
        g.drawImage(src, 0, 0, null);
        g.setComposite(java.awt.AlphaComposite.Src);
        g.setColor(new Color(0, 0, 0, 0));
        g.fillRect(0, 0, src.getWidth() / 2, src.getHeight());
        g.dispose();
        return img;
    }

    private static BufferedImage convert(byte[] png, int type) throws IOException {
        BufferedImage src = ImageIO.read(new java.io.ByteArrayInputStream(png));
        BufferedImage img = new BufferedImage(src.getWidth(), src.getHeight(), type);
        Graphics2D g = img.createGraphics();
        g.drawImage(src, 0, 0, null);
        g.dispose();
        return img;
    }

    private static byte[] encode(BufferedImage img, String format) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        if (!ImageIO.write(img, format, out)) {
            throw new IllegalStateException("no writer for " + format + " of image type " + img.getType());
        }
        return out.toByteArray();
    }

    static String sha256(byte[] bytes) {
        try {
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                    .digest(bytes));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
