package io.medfuse.app;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.Future;

import io.medfuse.events.ImagePayload;
import io.medfuse.events.ImageReference;
import io.medfuse.events.ImagingRequest;
import io.medfuse.events.Patient;
import io.medfuse.events.SourceRef;
import io.medfuse.worker.registry.RegistrySettings;
import io.medfuse.worker.registry.RestSchemaRegistryClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code medfuse produce}: publish a folder of images plus a CSV of patient fields, as an imaging system would. */
@Command(name = "produce", mixinStandardHelpOptions = true,
        description = {
            "Publishes one ImagingRequest per CSV row: the row's image file (PNG or JPEG) inline, or as a",
            "file: reference when larger than --inline-max-bytes; age and sex as patient fields; the other",
            "chosen columns as clinical values (numbers when they parse as numbers). Values that are empty",
            "are sent as missing. The request id is the id column, or the image file name without extension."
        })
final class ProduceCommand implements Callable<Integer> {

    @Mixin
    ClusterOptions cluster;

    @Option(names = "--topic", defaultValue = "medfuse.requests", description = "Requests topic (default: ${DEFAULT-VALUE}).")
    String topic;

    @Option(names = "--images", required = true, paramLabel = "DIR", description = "Folder with the image files.")
    Path images;

    @Option(names = "--metadata", required = true, paramLabel = "FILE.csv", description = "CSV with a header row.")
    Path metadata;

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

    @Override
    public Integer call() throws Exception {
        if (!Files.isDirectory(images)) {
            throw new UserInputException("--images " + images + ": no such folder");
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
        var registry = cluster.registry();
        int total = limit > 0 ? Math.min(limit, table.rows().size()) : table.rows().size();
        List<Future<?>> sent = new ArrayList<>();
        long t0 = System.nanoTime();
        try (RequestPublisher publisher = new RequestPublisher(cluster.bootstrap, registry, topic, rate,
                cluster.clientOverrides())) {
            for (int i = 0; i < total; i++) {
                List<String> row = table.rows().get(i);
                int line = table.lines().get(i);
                ImagingRequest request = toRequest(table, row, line, imageCol, idCol, ageCol, sexCol, clinicalCols);
                sent.add(publisher.publish(request));
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
        System.out.printf("produce: %d requests to %s in %.1f s%n", total, topic, (System.nanoTime() - t0) / 1e9);
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
        ImagePayload.Builder image = ImagePayload.newBuilder().setMediaType(mediaType);
        if (Files.size(file) > inlineMaxBytes) {
            image.setReference(ImageReference.newBuilder().setUri(file.toAbsolutePath().toUri().toString()).build());
        } else {
            image.setData(java.nio.ByteBuffer.wrap(Files.readAllBytes(file)));
        }
        return ImagingRequest.newBuilder()
                .setRequestId(id)
                .setRequestedAt(Instant.now())
                .setSource(SourceRef.newBuilder().setSystem("medfuse-produce").build())
                .setPatient(Patient.newBuilder().setAgeYears(age).setSex(sex).build())
                .setClinical(values)
                .setImage(image.build())
                .build();
    }
}
