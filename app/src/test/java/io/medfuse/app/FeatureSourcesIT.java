package io.medfuse.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.medfuse.events.LabelProbability;
import io.medfuse.events.Prediction;
import io.medfuse.events.registry.RegistrySettings;
import io.medfuse.events.registry.RestSchemaRegistryClient;
import io.medfuse.model.contract.FeatureSource;
import io.medfuse.model.contract.FeatureSpec;
import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.engine.EngineOptions;
import io.medfuse.model.onnx.OnnxModelFile;
import io.medfuse.testkit.EmbeddedKafka;
import io.medfuse.testkit.InProcessSchemaRegistry;
import io.medfuse.testkit.OutcomeConsumer;
import io.medfuse.testkit.SharedBroker;
import io.medfuse.trainer.eval.Evaluation;
import io.medfuse.trainer.synth.SyntheticDataset;
import io.medfuse.worker.MedfuseWorker;
import io.medfuse.worker.config.WorkerConfig;

/**
 * The contract names each feature's source, and serving, training and evaluation all read it from there: a model
 * trained on columns whose names say nothing ({@code age_years}, {@code gender}, {@code site}) mapped with
 * {@code --source} is served from the request's patient fields without imputing anything, with the probabilities
 * {@code evaluate} computed from the CSV.
 */
class FeatureSourcesIT {

    private static final int ROWS = 160;
    private static final int SERVED = 24;

    @Test
    void aModelTrainedOnRenamedColumnsIsServedFromThePatientFieldsWithEvaluatesProbabilities(@TempDir Path dir)
            throws Exception {
        Path original = new SyntheticDataset(21).write(dir, ROWS);
        List<String> lines = Files.readAllLines(original, StandardCharsets.UTF_8);
        assertThat(lines.get(0)).isEqualTo("image,label,age,sex,localization,lesion_id");
        lines.set(0, "image,label,age_years,gender,site,lesion_id");
        Path csv = dir.resolve("renamed.csv");
        Files.write(csv, lines, StandardCharsets.UTF_8);
        Path images = dir.resolve("images");
        Path model = dir.resolve("renamed.onnx");

        CliRun train = CliRun.of("train", "--images", images.toString(), "--metadata", csv.toString(),
                "--numeric", "age_years", "--categorical", "gender,site", "--source", "age_years=patient.ageYears",
                "--source", "gender=patient.sex", "--group", "lesion_id", "--epochs", "2", "--patience", "2",
                "--out", model.toString());
        assertThat(train.exit()).as(train.err()).isZero();

        ModelContract contract = OnnxModelFile.readContract(model);
        assertThat(contract.tabular()).extracting(FeatureSpec::name).containsExactly("age_years", "gender", "site");
        assertThat(contract.tabular()).extracting(FeatureSpec::sources).containsExactly(
                List.of(FeatureSource.PATIENT_AGE, FeatureSource.DICOM_PATIENT_AGE),
                List.of(FeatureSource.PATIENT_SEX, FeatureSource.DICOM_PATIENT_SEX),
                List.of(new FeatureSource.Clinical("site")));
        assertThat(((FeatureSpec.Numeric) contract.tabular().get(0)).max()).as("an age gets the 0..120 range by its "
                + "source, whatever the column is called").isEqualTo(120.0);
        CliRun shown = CliRun.of("contract", "--onnx", model.toString());
        assertThat(shown.err()).contains("age_years (numeric) <- patient.ageYears", "gender (categorical) <- patient.sex",
                "site (categorical) <- clinical.site");

        // evaluate reads the CSV through the same sources: patient.ageYears from column age_years, and so on
        Evaluation.Result evaluated = Evaluation.run(model, new Evaluation.Options(images, csv, "label", "image",
                "gender", "age_years", false), EngineOptions.defaults().withDevice("cpu"));
        Map<String, float[]> expected = new LinkedHashMap<>();
        for (int i = 0; i < SERVED; i++) {
            String image = lines.get(i + 1).split(",")[0];
            expected.put(image.replaceFirst("\\.png$", ""), evaluated.probabilities()[i]);
        }

        Map<String, Prediction> served = serve(model, dir, List.of("--images", images.toString(), "--metadata",
                csv.toString(), "--age-column", "age_years", "--sex-column", "gender", "--clinical", "site"));

        assertThat(served.keySet()).containsExactlyInAnyOrderElementsOf(expected.keySet());
        for (Map.Entry<String, float[]> e : expected.entrySet()) {
            Prediction p = served.get(e.getKey());
            assertThat(p.getFlags()).as("flags of %s: every feature came from the request", e.getKey()).isEmpty();
            List<LabelProbability> probabilities = p.getProbabilities();
            for (int k = 0; k < probabilities.size(); k++) {
                assertThat(probabilities.get(k).getProbability()).as("%s p[%d]", e.getKey(), k)
                        .isCloseTo(e.getValue()[k], org.assertj.core.data.Offset.offset(1e-5));
            }
        }
    }

    /**
     * Training, evaluation and serving from a folder of DICOM objects whose tags alone carry age and sex (the CSV
     * holds only file names and labels): all three read the tags through the same decoder and resolution, so the
     * worker's probabilities are evaluate's.
     */
    @Test
    void aModelTrainedOnDicomTagsIsServedFromDicomRequestsWithEvaluatesProbabilities(@TempDir Path dir)
            throws Exception {
        Path original = new SyntheticDataset(22).write(dir, ROWS);
        List<String> lines = Files.readAllLines(original, StandardCharsets.UTF_8);
        Path dicom = Files.createDirectories(dir.resolve("dicom"));
        List<String> labels = new java.util.ArrayList<>(List.of("image,label,lesion_id"));
        Map<String, String> uidOf = new LinkedHashMap<>();
        for (String line : lines.subList(1, lines.size())) {
            String[] c = line.split(",");
            String name = c[0].replaceFirst("\\.png$", "");
            java.awt.image.BufferedImage img = javax.imageio.ImageIO.read(dir.resolve("images").resolve(c[0])
                    .toFile());
            String sop = io.medfuse.testkit.DicomBuilder.uidFor("instance/" + name);
            Files.write(dicom.resolve(name + ".dcm"), io.medfuse.testkit.DicomBuilder.secondaryCapture(img,
                    String.format(java.util.Locale.ROOT, "%03dY", (int) Double.parseDouble(c[2])),
                    c[3].equals("female") ? "F" : "M", null, io.medfuse.testkit.DicomBuilder.uidFor("study/" + name),
                    io.medfuse.testkit.DicomBuilder.uidFor("series/" + name), sop));
            labels.add(name + ".dcm," + c[1] + "," + c[5]);
            uidOf.put(name + ".dcm", sop);
        }
        Path csv = dir.resolve("dicom-labels.csv");
        Files.write(csv, labels, StandardCharsets.UTF_8);
        Path model = dir.resolve("dicom.onnx");

        CliRun train = CliRun.of("train", "--images", dicom.toString(), "--metadata", csv.toString(),
                "--numeric", "age", "--categorical", "sex", "--group", "lesion_id", "--epochs", "2", "--patience",
                "2", "--out", model.toString());
        assertThat(train.exit()).as(train.err()).isZero();
        assertThat(OnnxModelFile.readContract(model).tabular()).extracting(FeatureSpec::sources).containsExactly(
                List.of(FeatureSource.PATIENT_AGE, FeatureSource.DICOM_PATIENT_AGE),
                List.of(FeatureSource.PATIENT_SEX, FeatureSource.DICOM_PATIENT_SEX));

        // compare reads the same folder through the same reader: three networks on the same DICOM rows
        Path cmp = dir.resolve("cmp");
        CliRun compare = CliRun.of("compare", "--images", dicom.toString(), "--metadata", csv.toString(),
                "--numeric", "age", "--categorical", "sex", "--group", "lesion_id", "--epochs", "1", "--seeds", "1",
                "--out", cmp.toString());
        assertThat(compare.exit()).as(compare.err()).isZero();
        com.fasterxml.jackson.databind.JsonNode runs = new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(cmp.resolve("compare.json").toFile()).get("runs");
        assertThat(runs).hasSize(3);
        List<String> inputs = new java.util.ArrayList<>();
        for (com.fasterxml.jackson.databind.JsonNode run : runs) {
            inputs.add(run.get("inputs").asText());
            assertThat(run.get("trainRows").asInt() + run.get("validationRows").asInt())
                    .as("every DICOM row read, none excluded").isEqualTo(ROWS);
        }
        assertThat(inputs).containsExactly("fused", "image", "tabular");

        Evaluation.Result evaluated = Evaluation.run(model, new Evaluation.Options(dicom, csv, "label", "image",
                "sex", "age", false), EngineOptions.defaults().withDevice("cpu"));
        Map<String, float[]> expected = new LinkedHashMap<>();
        int i = 0;
        for (String image : uidOf.keySet()) {
            expected.put(uidOf.get(image), evaluated.probabilities()[i++]);
        }

        Map<String, Prediction> served = serve(model, dir, List.of("--dicom", dicom.toString()));

        assertThat(expected.keySet()).containsAll(served.keySet());
        for (Map.Entry<String, Prediction> e : served.entrySet()) {
            Prediction p = e.getValue();
            assertThat(p.getFlags()).as("flags of %s", e.getKey()).containsExactlyInAnyOrder("age:from-dicom",
                    "sex:from-dicom");
            float[] want = expected.get(e.getKey());
            for (int k = 0; k < want.length; k++) {
                assertThat(p.getProbabilities().get(k).getProbability()).as("%s p[%d]", e.getKey(), k)
                        .isCloseTo(want[k], org.assertj.core.data.Offset.offset(1e-5));
            }
        }
    }

    /** 'medfuse produce' sends the rows as an imaging system would (age and sex as patient fields), a worker answers. */
    @SuppressWarnings("try") // the outcome consumer works on its own thread while it is open
    private static Map<String, Prediction> serve(Path model, Path dir, List<String> what) throws Exception {
        Map<String, Prediction> got = new ConcurrentHashMap<>();
        java.util.concurrent.CountDownLatch answered = new java.util.concurrent.CountDownLatch(SERVED);
        EmbeddedKafka kafka = SharedBroker.kafka();
        InProcessSchemaRegistry registry = SharedBroker.registry();
        String suffix = java.util.UUID.randomUUID().toString().substring(0, 8);
        String requests = "sources-it-requests-" + suffix;
        String predictions = "sources-it-predictions-" + suffix;
        String deadLetters = "sources-it-dead-letters-" + suffix;
        kafka.createTopics(2, requests, predictions, deadLetters);
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put(WorkerConfig.BOOTSTRAP_SERVERS, kafka.bootstrapServers());
        settings.put(WorkerConfig.REGISTRY_URL, registry.url().toString());
        settings.put(WorkerConfig.APPLICATION_ID, "feature-sources-it-" + suffix);
        settings.put(WorkerConfig.TOPIC_REQUESTS, requests);
        settings.put(WorkerConfig.TOPIC_PREDICTIONS, predictions);
        settings.put(WorkerConfig.TOPIC_DEAD_LETTERS, deadLetters);
        settings.put(WorkerConfig.MODEL_PATH, model.toString());
        settings.put(WorkerConfig.METRICS_PORT, "0");
        settings.put(WorkerConfig.METRICS_BIND_ADDRESS, "127.0.0.1");
        settings.put(WorkerConfig.STATE_DIR, Files.createDirectories(dir.resolve("state")).toString());
        try (MedfuseWorker worker = MedfuseWorker.start(WorkerConfig.load(null, Map.of(), settings));
             OutcomeConsumer outcomes = new OutcomeConsumer(kafka.bootstrapServers(),
                     new RestSchemaRegistryClient(RegistrySettings.of(registry.url())), predictions, deadLetters, Map.of(), OutcomeConsumer.of(p -> {
                         if (got.put(p.getRequestId(), p) == null) {
                             answered.countDown();
                         }
                     },
                             f -> { throw new AssertionError("dead letter " + f.getReason() + ": " + f.getDetail()); }))) {
            assertThat(worker.awaitRunning(Duration.ofSeconds(60))).isTrue();
            List<String> args = new java.util.ArrayList<>(List.of("produce", "--bootstrap", kafka.bootstrapServers(),
                    "--registry", registry.url().toString(), "--limit", Integer.toString(SERVED), "--topic",
                    requests));
            args.addAll(what);
            CliRun produce = CliRun.of(args.toArray(String[]::new));
            assertThat(produce.exit()).as(produce.err()).isZero();
            assertThat(answered.await(60, java.util.concurrent.TimeUnit.SECONDS)).as("%d predictions within 60 s, "
                    + "got %d", SERVED, got.size()).isTrue();
        }
        assertThat(got).as("predictions").hasSize(SERVED);
        return got;
    }
}
