package io.medfuse.trainer.data;

import io.medfuse.model.contract.SourceValues;
import io.medfuse.model.image.DicomDataset;
import io.medfuse.model.image.DicomObject;
import io.medfuse.model.image.DicomParser;
import io.medfuse.model.image.DicomPatientData;
import io.medfuse.model.image.DicomTags;

import io.medfuse.model.contract.FeatureBinding;
import io.medfuse.model.contract.FeatureSource;
import io.medfuse.model.contract.FeatureSpec;
import io.medfuse.model.image.ImageException;
import io.medfuse.model.image.ImagePreprocessor;
import io.medfuse.model.onnx.OnnxModelFile;
import io.medfuse.model.tabular.CsvSourceValues;
import io.medfuse.model.tabular.FeatureResolver;
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
 * <p>Each row's feature values are resolved from their sources exactly as the worker resolves a request's
 * ({@link FeatureResolver}, {@link CsvSourceValues}). Every row is checked: label present (and in the label list
 * when one is given), numeric cells numeric (blank, NA or NaN = missing, imputed later), an age (a numeric feature
 * read from patient.ageYears) within 0..120, the image file present and decodable. By default the first
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
    private final java.util.function.UnaryOperator<float[]> transform;
    /** Where {@link #read} reports its progress (a line every 5 s); by default nowhere. */
    private java.util.function.Consumer<String> progress = line -> { };
    /** Where transformed images are kept by their bytes (the transform is then skipped on a hit), or null. */
    private FeatureCache cache;

    /** @param preprocessor the serving preprocessing, built from the contract's image spec */
    public DatasetReader(ImagePreprocessor preprocessor) {
        this(preprocessor, java.util.function.UnaryOperator.identity());
    }

    /**
     * @param preprocessor the serving preprocessing, built from the contract's image spec
     * @param transform applied to each preprocessed image before it is kept as {@link Sample#pixels()} (e.g. a frozen
     *                  backbone's feature extractor, so 2,800 images of 224x224 need not sit in memory); called
     *                  from several threads at once; its {@link RuntimeException}s mark the row's image unusable
     */
    public DatasetReader(ImagePreprocessor preprocessor, java.util.function.UnaryOperator<float[]> transform) {
        this.preprocessor = Objects.requireNonNull(preprocessor, "preprocessor");
        this.transform = Objects.requireNonNull(transform, "transform");
    }

    /**
     * A sample's image read again and preprocessed (without the transform), as the serving path would see it.
     *
     * @throws DatasetException when the file is gone or no longer decodes
     */
    public float[] preprocessed(Dataset dataset, Sample sample) {
        Path file = resolveImage(dataset.images(), sample.image());
        if (file == null) {
            throw new DatasetException(Reason.MISSING_IMAGE, dataset.csv(), sample.line(),
                    dataset.options().imageColumn(), "image '" + sample.image() + "' not found in " + dataset.images());
        }
        try {
            byte[] bytes = Files.readAllBytes(file);
            return preprocessor.preprocess(bytes, mediaType(bytes, file));
        } catch (IOException | ImageException e) {
            throw new DatasetException(Reason.UNREADABLE_IMAGE, dataset.csv(), sample.line(),
                    dataset.options().imageColumn(), "image '" + sample.image() + "' cannot be used: " + e.getMessage(),
                    e);
        }
    }

    /**
     * Reports the reading's progress (rows read, rate, time left; a line every 5 s and one at the end) to {@code out}.
     *
     * @return this reader
     */
    public DatasetReader reportingTo(java.util.function.Consumer<String> out) {
        this.progress = java.util.Objects.requireNonNull(out, "out");
        return this;
    }

    /**
     * Keeps each image's transformed pixels in {@code cache}, keyed by the file's bytes, and takes them from there
     * next time instead of decoding and transforming (not for DICOM objects, whose tags are read anyway). The cache
     * must have been opened for exactly this preprocessing and transform.
     *
     * @return this reader
     */
    public DatasetReader cachingIn(FeatureCache featureCache) {
        this.cache = featureCache;
        return this;
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
        Map<FeatureSource, FeatureBinding> kindOf = new LinkedHashMap<>();
        for (FeatureBinding f : options.features()) {
            f.sources().forEach(src -> kindOf.putIfAbsent(src, f));
        }
        // a DICOM folder's tags may feed age and sex: a feature that can read a tag needs no column of its own name
        boolean dicomImages = firstImageIsDicom(table, imagesDir, imageCol);
        Map<FeatureSource, String> columns = new LinkedHashMap<>();
        options.columns().forEach((source, column) -> {
            FeatureBinding f = kindOf.get(source);
            boolean tagFed = f != null && f.name().equals(column) && dicomImages
                    && f.sources().stream().anyMatch(src -> src instanceof FeatureSource.Dicom);
            if (!tagFed || table.header().contains(column)) {
                columns.put(source, column);
            }
        });
        columns.forEach((source, column) -> {
            FeatureBinding f = kindOf.get(source);
            table.column(column, f == null ? "--source" : f.kind() == FeatureSpec.Kind.NUMERIC && f.name()
                    .equals(column) ? "--numeric" : f.kind() == FeatureSpec.Kind.CATEGORICAL && f.name().equals(column)
                    ? "--categorical" : "--source " + column + "=" + source.id());
        });
        CsvSourceValues sources;
        try {
            sources = CsvSourceValues.bind(table.header(), options.features(), columns);
        } catch (IllegalArgumentException e) {
            throw new DatasetException(Reason.MISSING_COLUMN, csv, 1, null, e.getMessage());
        }
        List<FeatureBinding> unbound = sources.unbound().stream()
                .filter(f -> f.sources().stream().noneMatch(src -> src instanceof FeatureSource.Dicom)
                        || !dicomImages)
                .toList();
        if (!unbound.isEmpty()) {
            FeatureBinding f = unbound.get(0);
            throw new DatasetException(Reason.MISSING_COLUMN, csv, 1, f.name(), "no column feeds feature '"
                    + f.name() + "' (read from " + f.sources().stream().map(FeatureSource::id).toList()
                    + "): the CSV has no column '" + f.name() + "'; name the column with --source COLUMN="
                    + f.sources().get(0).id() + ". The columns are " + table.header());
        }
        FeatureResolver resolver = new FeatureResolver(options.features());
        Integer groupCol = options.groupColumn() == null ? null : table.column(options.groupColumn(), "--group");

        int n = table.rows().size();
        // decoding dominates; do it on every core (the preprocessor is thread-safe), then judge rows in file order
        Object[] results = new Object[n];
        ProgressLine line = new ProgressLine("reading " + csv.getFileName() + " and its images", n, progress);
        IntStream.range(0, n).parallel().forEach(i -> {
            try {
                results[i] = readRow(table, i, imagesDir, imageCol, labelCol, sources, resolver, groupCol, options);
            } catch (DatasetException e) {
                results[i] = e;
            }
            line.step();
        });
        line.done();

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
                           CsvSourceValues sources, FeatureResolver resolver, Integer groupCol,
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
        String group = groupCol == null ? "line:" + line : row.get(groupCol).trim();
        if (group.isEmpty()) {
            group = "line:" + line;
        }
        String imageName = row.get(imageCol).trim();
        Path file = resolveImage(imagesDir, imageName);
        if (file == null) {
            throw new DatasetException(Reason.MISSING_IMAGE, csv, line, options.imageColumn(), "image '" + imageName
                    + "' not found in " + imagesDir + (imageName.isEmpty() ? " (the cell is empty)" : "")
                    + (looksLikeUid(imageName) ? " (nor a DICOM object with that SOP Instance UID)" : ""));
        }
        float[] pixels;
        DicomDataset tags = null;
        try {
            byte[] bytes = Files.readAllBytes(file);
            if (DicomParser.isPart10(bytes)) {
                // as the worker reads a DICOM request: one parse for the pixels and the tags
                DicomObject dicom = DicomParser.parse(bytes, preprocessor.limits());
                float[] raw = new float[preprocessor.spec().tensorSize()];
                preprocessor.preprocessInto(dicom, raw, 0);
                pixels = transform.apply(raw);
                tags = dicom.dataset();
            } else {
                String key = cache == null ? null : FeatureCache.key(bytes);
                float[] cached = key == null ? null : cache.get(key);
                if (cached != null) {
                    pixels = cached;
                } else {
                    pixels = transform.apply(preprocessor.preprocess(bytes, mediaType(bytes, file)));
                    if (key != null) {
                        cache.put(key, pixels);
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            throw new DatasetException(Reason.UNREADABLE_IMAGE, csv, line, options.imageColumn(), "image '"
                    + imageName + "' cannot be used: " + e.getMessage(), e);
        }
        // the same resolution as a request's: each feature from its first source that has a value, the CSV's
        // columns standing for the request's fields and a DICOM image's tags for its tags
        SourceValues values = withTags(sources.row(row), tags);
        Map<String, Object> resolved = resolver.resolve(values);
        Map<String, Object> features = new LinkedHashMap<>();
        for (FeatureBinding f : options.features()) {
            Object v = resolved.get(f.name());
            features.put(f.name(), switch (f.kind()) {
                case NUMERIC -> v == null ? null : parseNumber(v.toString(), f, () -> columnOf(sources, f, values),
                        csv, line);
                case CATEGORICAL -> v;
            });
        }
        return new Sample(line, imageName, label, group, java.util.Collections.unmodifiableMap(features), pixels);
    }

    /** The column a feature's value was read from in this row (or the DICOM tag), for messages. */
    private static String columnOf(CsvSourceValues sources, FeatureBinding f, SourceValues values) {
        FeatureSource from = FeatureResolver.origin(f, values);
        if (from instanceof FeatureSource.Dicom d) {
            return "(the image's " + d.attribute() + " tag)";
        }
        return from == null ? f.name() : sources.columnOf(from);
    }

    /** A CSV row's values, with a DICOM image's tags as the dicom.* sources (a CSV column mapped to one wins). */
    private static SourceValues withTags(SourceValues row, DicomDataset tags) {
        if (tags == null) {
            return row;
        }
        return new SourceValues() {
            @Override
            public Object patientAgeYears() {
                return row.patientAgeYears();
            }

            @Override
            public Object patientSex() {
                return row.patientSex();
            }

            @Override
            public Object clinical(String key) {
                return row.clinical(key);
            }

            @Override
            public Object dicom(FeatureSource.DicomAttribute attribute) {
                Object mapped = row.dicom(attribute);
                return mapped != null ? mapped : DicomPatientData.value(tags, attribute);
            }
        };
    }

    static boolean looksLikeUid(String name) {
        return name.contains(".") && DicomDataset.isUid(name);
    }

    /** @param column the column the cell came from, for a message: computed only when there is one to write */
    private static Double parseNumber(String cell, FeatureBinding feature, java.util.function.Supplier<String> column,
                                      Path csv, int line) {
        String s = cell.trim();
        if (s.isEmpty() || s.equalsIgnoreCase("NA") || s.equalsIgnoreCase("NaN")) {
            return null;
        }
        double v;
        try {
            v = Double.parseDouble(s);
        } catch (NumberFormatException e) {
            throw new DatasetException(Reason.NON_NUMERIC, csv, line, column.get(), "'" + abbreviate(s)
                    + "' is not a number (leave the cell empty when the value is unknown)");
        }
        if (!Double.isFinite(v)) {
            throw new DatasetException(Reason.NON_NUMERIC, csv, line, column.get(), "'" + abbreviate(s)
                    + "' is not a finite number");
        }
        if (isAge(feature) && (v < AGE_MIN || v > AGE_MAX)) {
            throw new DatasetException(Reason.OUT_OF_RANGE, csv, line, column.get(), v + " is outside 0..120 years");
        }
        return v;
    }

    /** Whether a numeric feature is an age in years, read from patient.ageYears (it then gets the 0..120 range). */
    public static boolean isAge(FeatureBinding feature) {
        return feature.kind() == FeatureSpec.Kind.NUMERIC && feature.sources().contains(FeatureSource.PATIENT_AGE);
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
    }

    /** Whether the first row's image is a DICOM object (its tags can then feed features no column feeds). */
    private static boolean firstImageIsDicom(CsvTable table, Path imagesDir, int imageCol) {
        if (table.rows().isEmpty()) {
            return false;
        }
        Path file = resolveImage(imagesDir, table.rows().get(0).get(imageCol).trim());
        if (file == null) {
            return false;
        }
        try (var in = Files.newInputStream(file)) {
            return DicomParser.isPart10(in.readNBytes(132));
        } catch (IOException e) {
            return false;
        }
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
        for (String ext : List.of(".png", ".jpg", ".jpeg", ".dcm", ".PNG", ".JPG", ".JPEG", ".DCM")) {
            Path p = dir.resolve(name + ext);
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        return looksLikeUid(name) ? sopInstanceIndex(dir).get(name) : null;
    }

    private static final Map<Path, Map<String, Path>> SOP_INDEX = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * The DICOM objects directly in {@code dir} by SOP Instance UID (for labels keyed by it), built once per folder
     * and run; files that are not DICOM, or not readable, are left out.
     */
    static Map<String, Path> sopInstanceIndex(Path dir) {
        return SOP_INDEX.computeIfAbsent(dir.toAbsolutePath().normalize(), d -> {
            Map<String, Path> index = new java.util.HashMap<>();
            try (var files = Files.list(d)) {
                for (Path f : files.filter(Files::isRegularFile).toList()) {
                    try {
                        byte[] bytes = Files.readAllBytes(f);
                        if (DicomParser.isPart10(bytes)) {
                            DicomParser.parse(bytes, io.medfuse.model.image.ImageLimits.defaults()).dataset()
                                    .string(DicomTags.SOP_INSTANCE_UID).ifPresent(uid -> index.putIfAbsent(uid, f));
                        }
                    } catch (IOException | RuntimeException e) {
                        // not an object the index can name; the row that needs it reports it missing
                    }
                }
            } catch (IOException e) {
                return Map.of();
            }
            return Map.copyOf(index);
        });
    }

    /** The media type the bytes say (the preprocessor checks it again), falling back to the file extension. */
    static String mediaType(byte[] bytes, Path file) {
        if (bytes.length >= 3 && (bytes[0] & 0xFF) == 0xFF && (bytes[1] & 0xFF) == 0xD8) {
            return "image/jpeg";
        }
        if (bytes.length >= 4 && (bytes[0] & 0xFF) == 0x89 && bytes[1] == 'P') {
            return "image/png";
        }
        if (DicomParser.isPart10(bytes)) {
            return "application/dicom";
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
