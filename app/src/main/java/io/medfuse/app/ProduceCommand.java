package io.medfuse.app;

import io.medfuse.model.image.DicomDataset;
import io.medfuse.model.image.DicomParser;
import io.medfuse.model.image.DicomTags;
import io.medfuse.model.image.ImageException;
import io.medfuse.model.image.ImageLimits;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.Future;

import io.medfuse.events.ImagePayload;
import io.medfuse.trainer.data.CsvTable;
import io.medfuse.events.ImageReference;
import io.medfuse.events.ImagingRequest;
import io.medfuse.events.Patient;
import io.medfuse.events.SourceRef;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code medfuse produce}: publish a folder of images plus a CSV of patient fields, as an imaging system would. */
@Command(name = "produce", mixinStandardHelpOptions = true,
        description = {
            "Publishes one ImagingRequest per CSV row: the row's image file (PNG or JPEG) inline, or, when larger "
                    + "than --inline-max-bytes, copied into --reference-dir and sent as a file: reference with its sha256 "
                    + "(workers read references only from folders they allow: image.reference.file.roots; the default "
                    + "--reference-dir is the one 'medfuse demo' allows). Age and sex go as patient fields, the other "
                    + "chosen columns as clinical values (numbers when they parse as numbers); empty values are sent as "
                    + "missing. The request id is the id column, or the image file name without extension; it is also the "
                    + "record key, so a request sent again reaches the same worker task.",
            "",
            "With --dicom DIR instead of --images and --metadata, every DICOM Part 10 file under DIR (other files are "
                    + "counted and skipped) is published as an application/dicom request with nothing typed by hand: "
                    + "no patient fields (the worker reads age and sex from the object's tags as the model's contract "
                    + "says), the Study, Series and SOP Instance UIDs as source, and the SOP Instance UID as request "
                    + "id (the file name without extension when it has none)."
        })
final class ProduceCommand implements Callable<Integer> {

    @Mixin
    ClusterOptions cluster;

    @Option(names = "--topic", defaultValue = "medfuse.requests", description = "Requests topic (default: ${DEFAULT-VALUE}).")
    String topic;

    @Option(names = "--images", paramLabel = "DIR", description = "Folder with the image files (with --metadata).")
    Path images;

    @Option(names = "--metadata", paramLabel = "FILE.csv", description = "CSV with a header row (with --images).")
    Path metadata;

    @Option(names = "--dicom", paramLabel = "DIR",
            description = "Folder of DICOM files, searched 8 levels deep (instead of --images and --metadata).")
    Path dicom;

    @Option(names = "--image-column", defaultValue = "image", description = "Column naming the image file (default: ${DEFAULT-VALUE}).")
    String imageColumn;

    @Option(names = "--id-column", description = "Column with the request id (default: the image file name without extension).")
    String idColumn;

    @Option(names = "--age-column", defaultValue = "age", description = "Column with the age in years (default: ${DEFAULT-VALUE}); 'none' to skip.")
    String ageColumn;

    @Option(names = "--sex-column", defaultValue = "sex", description = "Column with the sex (default: ${DEFAULT-VALUE}); 'none' to skip.")
    String sexColumn;

    @Option(names = "--clinical", split = ",", paramLabel = "COLUMN",
            description = "Columns sent as clinical values (default: localization when present).")
    List<String> clinical;

    @Option(names = "--rate", defaultValue = "0", description = "Requests per second; 0 = as fast as possible (default: ${DEFAULT-VALUE}).")
    double rate;

    @Option(names = "--limit", defaultValue = "0", description = "Publish at most this many rows; 0 = all.")
    int limit;

    @Option(names = "--inline-max-bytes", defaultValue = "900000",
            description = "Images larger than this are sent as file: references (default: ${DEFAULT-VALUE}).")
    long inlineMaxBytes;

    @Option(names = "--reference-dir", paramLabel = "DIR",
            description = "Where images sent by reference are staged: a folder the workers allow "
                    + "(image.reference.file.roots), e.g. a shared mount (default: the folder 'medfuse demo' "
                    + "allows, under java.io.tmpdir).")
    Path referenceDir;

    @Override
    public Integer call() throws Exception {
        if (dicom != null) {
            if (images != null || metadata != null) {
                throw new UserInputException("--dicom publishes DICOM files with their own tags; leave out --images "
                        + "and --metadata");
            }
            return publishDicom();
        }
        if (images == null || metadata == null) {
            throw new UserInputException("give --images DIR and --metadata FILE.csv, or --dicom DIR");
        }
        if (!Files.isDirectory(images)) {
            throw new UserInputException("--images " + images + ": no such folder");
        }
        if (!Files.isRegularFile(metadata)) {
            throw new UserInputException("--metadata " + metadata + ": no such file");
        }
        CsvTable table = CsvTable.read(metadata);
        int imageCol = table.column(imageColumn, "--image-column");
        int idCol = idColumn == null ? -1 : table.column(idColumn, "--id-column");
        int ageCol = "none".equals(ageColumn) ? -1 : table.column(ageColumn, "--age-column");
        int sexCol = "none".equals(sexColumn) ? -1 : table.column(sexColumn, "--sex-column");
        List<String> clinicalColumns = clinical != null ? clinical
                : table.header().contains("localization") ? List.of("localization") : List.of();
        Map<String, Integer> clinicalCols = new LinkedHashMap<>();
        for (String c : clinicalColumns) {
            clinicalCols.put(c, table.column(c, "--clinical"));
        }
        int total = limit > 0 ? Math.min(limit, table.rows().size()) : table.rows().size();
        return publish(total, "requests", i -> toRequest(table, table.rows().get(i), table.lines().get(i), imageCol,
                idCol, ageCol, sexCol, clinicalCols));
    }

    /** The i-th request to publish; may fail on bad input. */
    private interface RequestSource {
        ImagingRequest request(int i) throws IOException;
    }

    /** Publishes requests 0..total-1 with progress on stderr, waits for every send, prints the summary. */
    private int publish(int total, String what, RequestSource requests) throws Exception {
        List<Future<?>> sent = new ArrayList<>();
        long t0 = System.nanoTime();
        try (RequestPublisher publisher = new RequestPublisher(cluster.bootstrap, cluster.registry(), topic, rate,
                cluster.clientOverrides())) {
            for (int i = 0; i < total; i++) {
                sent.add(publisher.publish(requests.request(i)));
                if ((i + 1) % 100 == 0 || i + 1 == total) {
                    System.err.printf("\rpublished %d/%d", i + 1, total);
                }
            }
            publisher.flush();
            for (Future<?> f : sent) {
                f.get();
            }
        }
        System.err.println();
        System.out.printf("produce: %d %s to %s in %.1f s%n", total, what, topic, (System.nanoTime() - t0) / 1e9);
        return 0;
    }

    private ImagingRequest toRequest(CsvTable table, List<String> row, int line, int imageCol, int idCol,
                                     int ageCol, int sexCol, Map<String, Integer> clinicalCols) throws IOException {
        String where = table.file() + ":" + line;
        String fileName = row.get(imageCol).trim();
        if (fileName.isEmpty()) {
            throw new UserInputException(where + ": column '" + imageColumn + "' is empty");
        }
        Path file = images.resolve(fileName);
        if (!Files.isRegularFile(file)) {
            throw new UserInputException(where + ": image file " + file + " does not exist");
        }
        String lower = fileName.toLowerCase(Locale.ROOT);
        String mediaType = lower.endsWith(".png") ? "image/png"
                : lower.endsWith(".jpg") || lower.endsWith(".jpeg") ? "image/jpeg" : null;
        if (mediaType == null) {
            throw new UserInputException(where + ": " + fileName + " is neither .png nor .jpg/.jpeg");
        }
        String id = idCol >= 0 ? row.get(idCol).trim() : fileName.replaceFirst("\\.[^.]+$", "");
        Double age = null;
        if (ageCol >= 0 && !row.get(ageCol).isBlank()) {
            try {
                age = Double.parseDouble(row.get(ageCol).trim());
            } catch (NumberFormatException e) {
                throw new UserInputException(where + ": column '" + ageColumn + "' is not a number");
            }
        }
        String sex = sexCol >= 0 && !row.get(sexCol).isBlank() ? row.get(sexCol).trim() : null;
        Map<String, Object> values = new LinkedHashMap<>();
        clinicalCols.forEach((name, col) -> {
            String v = row.get(col).trim();
            if (v.isEmpty()) {
                values.put(name, null);
            } else {
                try {
                    values.put(name, Double.parseDouble(v));
                } catch (NumberFormatException e) {
                    values.put(name, v);
                }
            }
        });
        ImagePayload image;
        if (Files.size(file) > inlineMaxBytes) {
            image = stage(Files.readAllBytes(file), mediaType,
                    referenceDir != null ? referenceDir : DemoCommand.referenceFolder());
        } else {
            image = ImagePayload.newBuilder().setMediaType(mediaType)
                    .setData(java.nio.ByteBuffer.wrap(Files.readAllBytes(file))).build();
        }
        return ImagingRequest.newBuilder()
                .setRequestId(id)
                .setRequestedAt(Instant.now())
                .setSource(SourceRef.newBuilder().setSystem("medfuse-produce").build())
                .setPatient(Patient.newBuilder().setAgeYears(age).setSex(sex).build())
                .setClinical(values)
                .setImage(image)
                .build();
    }

    /** The DICOM Part 10 files under {@code dir} (8 levels deep), in name order. */
    static List<Path> dicomFiles(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new UserInputException("--dicom " + dir + ": no such folder");
        }
        List<Path> out = new ArrayList<>();
        try (var walk = Files.walk(dir, 8)) {
            for (Path f : walk.filter(Files::isRegularFile).sorted().toList()) {
                byte[] head = new byte[132];
                int n;
                try (var in = Files.newInputStream(f)) {
                    n = in.readNBytes(head, 0, head.length);
                }
                if (n == head.length && DicomParser.isPart10(head)) {
                    out.add(f);
                }
            }
        }
        return out;
    }

    /**
     * One application/dicom request for a DICOM file: no patient fields, the object's UIDs as source, its SOP
     * Instance UID as id. The object is parsed here only for its UIDs; the worker reads it again.
     *
     * @throws UserInputException when the file is not a DICOM object medfuse can read
     */
    ImagingRequest dicomRequest(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        DicomDataset d;
        try {
            d = DicomParser.parse(bytes, ImageLimits.defaults()).dataset();
        } catch (ImageException e) {
            throw new UserInputException(file + ": " + e.getMessage());
        }
        String sop = uid(d, DicomTags.SOP_INSTANCE_UID);
        String id = sop != null ? sop : file.getFileName().toString().replaceFirst("\\.[^.]+$", "");
        ImagePayload image = bytes.length > inlineMaxBytes
                ? stage(bytes, "application/dicom", referenceDir != null ? referenceDir : DemoCommand.referenceFolder())
                : ImagePayload.newBuilder().setMediaType("application/dicom")
                        .setData(java.nio.ByteBuffer.wrap(bytes)).build();
        return ImagingRequest.newBuilder()
                .setRequestId(id)
                .setRequestedAt(Instant.now())
                .setSource(SourceRef.newBuilder().setSystem("medfuse-produce")
                        .setStudyInstanceUid(uid(d, DicomTags.STUDY_INSTANCE_UID))
                        .setSeriesInstanceUid(uid(d, DicomTags.SERIES_INSTANCE_UID))
                        .setSopInstanceUid(sop).build())
                .setClinical(Map.of())
                .setImage(image)
                .build();
    }

    private static String uid(DicomDataset d, int tag) {
        return d.uid(tag).orElse(null);
    }

    private int publishDicom() throws Exception {
        List<Path> files = dicomFiles(dicom);
        if (files.isEmpty()) {
            throw new UserInputException("--dicom " + dicom + ": no DICOM Part 10 file (no 'DICM' after a 128-byte "
                    + "preamble) in that folder");
        }
        int total = limit > 0 ? Math.min(limit, files.size()) : files.size();
        return publish(total, "DICOM requests", i -> dicomRequest(files.get(i)));
    }

    /**
     * Copies image bytes into {@code folder} under their sha256 (so a file sent twice is stored once) and returns a
     * payload that references the copy with that sha256: what a worker allowing {@code folder} reads and checks.
     */
    static ImagePayload stage(byte[] bytes, String mediaType, Path folder) throws IOException {
        Files.createDirectories(folder);
        String sha;
        try {
            sha = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
        String extension = switch (mediaType) {
            case "image/png" -> ".png";
            case "application/dicom" -> ".dcm";
            default -> ".jpg";
        };
        Path copy = folder.toAbsolutePath().resolve(sha + extension);
        if (!Files.exists(copy)) {
            Path tmp = Files.createTempFile(folder, ".staging-", ".tmp");
            Files.write(tmp, bytes);
            Files.move(tmp, copy, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        return ImagePayload.newBuilder().setMediaType(mediaType)
                .setReference(ImageReference.newBuilder().setUri(copy.toUri().toString()).setSha256(sha).build())
                .build();
    }
}
