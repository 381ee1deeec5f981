package io.medfuse.trainer.data;

import io.medfuse.model.image.ImageException;
import io.medfuse.model.image.ImagePreprocessor;
import io.medfuse.model.onnx.OnnxModelFile;
import io.medfuse.trainer.data.DatasetException.Reason;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import java.util.stream.IntStream;

/**
 * Reads an images folder plus a metadata CSV into a {@link Dataset}. Images are decoded and preprocessed by the
 * serving {@link ImagePreprocessor}, so a row that trains is a row the worker could serve.
 *
 * <p>Every row is checked: label present (and in the label list when one is given), numeric cells numeric (blank =
 * missing, imputed later), {@code age} within 0..120, the image file present and decodable. By default the first
 * bad row (in file order) throws a {@link DatasetException} naming file, line and column; with
 * {@link DatasetOptions#allowExclusions()} bad rows are left out and counted by reason. A missing column is always
 * an error.
 */
public final class DatasetReader {

    /** How many exclusion messages the dataset keeps for the report. */
    static final int EXAMPLES = 20;
    /** Valid range of a feature named {@code age}, in years. */
    public static final double AGE_MIN = 0;
    public static final double AGE_MAX = 120;

    private final ImagePreprocessor preprocessor;

    /** @param preprocessor the serving preprocessing, built from the contract's image spec */
    public DatasetReader(ImagePreprocessor preprocessor) {
        this.preprocessor = Objects.requireNonNull(preprocessor, "preprocessor");
    }

    /**
     * @throws DatasetException naming file, line and column on the first bad row (unless exclusions are allowed),
     *                          on a missing column, or when nothing usable is left
     */
    public Dataset read(Path imagesDir, Path csv, DatasetOptions options) {
        if (!Files.isDirectory(imagesDir)) {
            throw new DatasetException(Reason.MISSING_IMAGE, imagesDir, 0, null, "no such images folder");
        }
        CsvTable table = CsvTable.read(csv);
        int imageCol = table.column(options.imageColumn(), "--image-column");
        int labelCol = table.column(options.labelColumn(), "--label");
        Map<String, Integer> numericCols = new LinkedHashMap<>();
        for (String name : options.numeric()) {
            numericCols.put(name, table.column(name, "--numeric"));
        }
        Map<String, Integer> categoricalCols = new LinkedHashMap<>();
        for (String name : options.categorical()) {
            categoricalCols.put(name, table.column(name, "--categorical"));
        }
        Integer groupCol = options.groupColumn() == null ? null : table.column(options.groupColumn(), "--group");

        int n = table.rows().size();
        // decoding dominates; do it on every core (the preprocessor is thread-safe), then judge rows in file order
        Object[] results = new Object[n];
        IntStream.range(0, n).parallel().forEach(i -> {
            try {
                results[i] = readRow(table, i, imagesDir, imageCol, labelCol, numericCols, categoricalCols, groupCol,
                        options);
            } catch (DatasetException e) {
                results[i] = e;
            }
        });

        List<Sample> samples = new ArrayList<>(n);
        Map<Reason, Integer> excluded = new EnumMap<>(Reason.class);
        List<String> examples = new ArrayList<>();
        for (Object r : results) {
            if (r instanceof DatasetException e) {
                if (!options.allowExclusions()) {
                    throw e;
                }
                excluded.merge(e.reason(), 1, Integer::sum);
                if (examples.size() < EXAMPLES) {
                    examples.add(e.getMessage());
                }
            } else {
                samples.add((Sample) r);
            }
        }
        if (samples.isEmpty()) {
            throw new DatasetException(Reason.UNUSABLE, csv, 0, null, "no usable rows (" + n + " rows, "
                    + excluded + " excluded)");
        }
        List<String> labels = options.labels() != null ? options.labels()
                : List.copyOf(new TreeSet<>(samples.stream().map(Sample::label).toList()));
        return new Dataset(csv, imagesDir, options, labels, samples, excluded, examples,
                fingerprint(table, samples, imagesDir), preprocessor.spec());
    }

    private Sample readRow(CsvTable table, int i, Path imagesDir, int imageCol, int labelCol,
                           Map<String, Integer> numericCols, Map<String, Integer> categoricalCols, Integer groupCol,
                           DatasetOptions options) {
        Path csv = table.file();
        List<String> row = table.rows().get(i);
        int line = table.lines().get(i);
        String label = row.get(labelCol).trim();
        if (label.isEmpty()) {
            throw new DatasetException(Reason.MISSING_LABEL, csv, line, options.labelColumn(), "the label is empty");
        }
        if (options.labels() != null && !options.labels().contains(label)) {
            throw new DatasetException(Reason.UNKNOWN_LABEL, csv, line, options.labelColumn(), "unknown label '"
                    + label + "'; the allowed labels are " + options.labels());
        }
        Map<String, Object> features = new LinkedHashMap<>();
        for (Map.Entry<String, Integer> c : numericCols.entrySet()) {
            features.put(c.getKey(), parseNumber(row.get(c.getValue()), c.getKey(), csv, line));
        }
        for (Map.Entry<String, Integer> c : categoricalCols.entrySet()) {
            String v = row.get(c.getValue()).trim();
            features.put(c.getKey(), v.isEmpty() ? null : v);
        }
        String group = groupCol == null ? "line:" + line : row.get(groupCol).trim();
        if (group.isEmpty()) {
            group = "line:" + line;
        }
        String imageName = row.get(imageCol).trim();
        Path file = resolveImage(imagesDir, imageName);
        if (file == null) {
            throw new DatasetException(Reason.MISSING_IMAGE, csv, line, options.imageColumn(), "image '" + imageName
                    + "' not found in " + imagesDir + (imageName.isEmpty() ? " (the cell is empty)" : ""));
        }
        float[] pixels;
        try {
            byte[] bytes = Files.readAllBytes(file);
            pixels = preprocessor.preprocess(bytes, mediaType(bytes, file));
        } catch (IOException | ImageException e) {
            throw new DatasetException(Reason.UNREADABLE_IMAGE, csv, line, options.imageColumn(), "image '"
                    + imageName + "' cannot be used: " + e.getMessage(), e);
        }
        return new Sample(line, imageName, label, group, java.util.Collections.unmodifiableMap(features), pixels);
    }

    private static Double parseNumber(String cell, String column, Path csv, int line) {
        String s = cell.trim();
        if (s.isEmpty() || s.equalsIgnoreCase("NA") || s.equalsIgnoreCase("NaN")) {
            return null;
        }
        double v;
        try {
            v = Double.parseDouble(s);
        } catch (NumberFormatException e) {
            throw new DatasetException(Reason.NON_NUMERIC, csv, line, column, "'" + abbreviate(s)
                    + "' is not a number (leave the cell empty when the value is unknown)");
        }
        if (!Double.isFinite(v)) {
            throw new DatasetException(Reason.NON_NUMERIC, csv, line, column, "'" + abbreviate(s)
                    + "' is not a finite number");
        }
        if (isAge(column) && (v < AGE_MIN || v > AGE_MAX)) {
            throw new DatasetException(Reason.OUT_OF_RANGE, csv, line, column, v + " is outside 0..120 years");
        }
        return v;
    }

    /** Whether a numeric feature is an age in years (it then gets the 0..120 valid range). */
    public static boolean isAge(String column) {
        return column.trim().toLowerCase(Locale.ROOT).equals("age");
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
    }

    private static Path resolveImage(Path dir, String name) {
        if (name.isEmpty()) {
            return null;
        }
        Path base = dir.resolve(name).normalize();
        if (!base.startsWith(dir.normalize())) {
            return null;
        }
        if (Files.isRegularFile(base)) {
            return base;
        }
        for (String ext : List.of(".png", ".jpg", ".jpeg", ".PNG", ".JPG", ".JPEG")) {
            Path p = dir.resolve(name + ext);
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        return null;
    }

    /** The media type the bytes say (the preprocessor checks it again), falling back to the file extension. */
    static String mediaType(byte[] bytes, Path file) {
        if (bytes.length >= 3 && (bytes[0] & 0xFF) == 0xFF && (bytes[1] & 0xFF) == 0xD8) {
            return "image/jpeg";
        }
        if (bytes.length >= 4 && (bytes[0] & 0xFF) == 0x89 && bytes[1] == 'P') {
            return "image/png";
        }
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        return name.endsWith(".jpg") || name.endsWith(".jpeg") ? "image/jpeg" : "image/png";
    }

    /** sha256 over the CSV bytes, then each used image's name and size in CSV order. */
    private static String fingerprint(CsvTable table, List<Sample> samples, Path imagesDir) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(table.bytes());
        for (Sample s : samples) {
            long size;
            try {
                Path p = resolveImage(imagesDir, s.image());
                size = p == null ? -1 : Files.size(p);
            } catch (IOException e) {
                size = -1;
            }
            out.writeBytes(("\n" + s.image() + ":" + size).getBytes(StandardCharsets.UTF_8));
        }
        return OnnxModelFile.sha256(out.toByteArray());
    }
}
