package io.medfuse.worker.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

import io.medfuse.worker.config.WorkerConfig;

/**
 * What can be checked of the container images, docker-compose.yml and the Kubernetes manifests without Docker or a
 * cluster: they parse, name the right kinds, images, ports, probes and files, and agree with each other and with the
 * worker's configuration (one consumer group everywhere, the metrics port, the partition cap on scaling).
 */
class DeploymentFilesTest {

    private static final Path ROOT = root();
    private static final int METRICS_PORT = (Integer) WorkerConfig.definition().defaultValues()
            .get(WorkerConfig.METRICS_PORT);

    private static Path root() {
        Path here = Path.of("").toAbsolutePath();
        return Files.exists(here.resolve("docker-compose.yml")) ? here : here.getParent();
    }

    // ---------------------------------------------------------------- container images

    private record Dockerfile(List<String> from, List<String[]> copies, String entrypoint, List<Integer> exposed,
                              String text) {
    }

    private static Dockerfile dockerfile(String name) throws IOException {
        String text = Files.readString(ROOT.resolve(name)).replace("\\\n", " ");
        List<String> from = new ArrayList<>();
        List<String[]> copies = new ArrayList<>();
        List<Integer> exposed = new ArrayList<>();
        String entrypoint = null;
        for (String line : text.lines().map(String::strip).toList()) {
            if (line.startsWith("FROM ")) {
                from.add(line.split("\\s+")[1]);
            } else if (line.startsWith("COPY ") && !line.contains("--from=")) {
                String[] parts = line.substring(5).trim().split("\\s+");
                copies.add(parts);
            } else if (line.startsWith("EXPOSE ")) {
                for (String p : line.substring(7).trim().split("\\s+")) {
                    exposed.add(Integer.parseInt(p));
                }
            } else if (line.startsWith("ENTRYPOINT ")) {
                entrypoint = line.substring(11).trim();
            }
        }
        return new Dockerfile(from, copies, entrypoint, exposed, text);
    }

    private static List<String> jsonArray(String s) {
        assertThat(s).as("exec form: a JSON array").startsWith("[").endsWith("]");
        List<String> out = new ArrayList<>();
        Matcher m = Pattern.compile("\"((?:[^\"\\\\]|\\\\.)*)\"").matcher(s);
        while (m.find()) {
            out.add(m.group(1));
        }
        return out;
    }

    /** Each COPY source exists in the repository or is what `./mvnw package` makes. */
    private static void copiesWhatTheBuildProduces(Dockerfile d) throws IOException {
        String workerPom = Files.readString(ROOT.resolve("worker/pom.xml"));
        String appPom = Files.readString(ROOT.resolve("app/pom.xml"));
        assertThat(d.copies()).isNotEmpty();
        for (String[] copy : d.copies()) {
            String src = copy[0];
            if (src.equals("worker/target/lib/")) {
                assertThat(workerPom).contains("<goal>copy-dependencies</goal>")
                        .contains("<outputDirectory>${project.build.directory}/lib</outputDirectory>");
            } else if (src.equals("worker/target/medfuse-worker-*.jar")) {
                assertThat(workerPom).contains("<artifactId>medfuse-worker</artifactId>").doesNotContain("<packaging>");
            } else if (src.equals("app/target/lib/")) {
                assertThat(appPom).contains("<goal>copy-dependencies</goal>")
                        .contains("<outputDirectory>${project.build.directory}/lib</outputDirectory>");
            } else if (src.equals("app/target/medfuse-app-*.jar")) {
                assertThat(appPom).contains("<artifactId>medfuse-app</artifactId>").doesNotContain("<packaging>");
            } else {
                assertThat(ROOT.resolve(src)).as("COPY source %s", src).exists();
            }
        }
    }

    private static void runsTheWorkerMain(Dockerfile d) throws Exception {
        List<String> args = jsonArray(d.entrypoint());
        assertThat(args.get(0)).isEqualTo("java");
        String cp = args.get(args.indexOf("-cp") + 1);
        assertThat(cp).isEqualTo("/app/medfuse-worker.jar:/app/lib/*");
        String main = args.get(args.indexOf("-cp") + 2);
        assertThat(Class.forName(main).getMethod("main", String[].class)).isNotNull();
        assertThat(main).isEqualTo("io.medfuse.worker.WorkerMain");
        assertThat(args.get(args.size() - 1)).isEqualTo("/config/worker.properties");
        assertThat(d.copies()).anySatisfy(c -> assertThat(c).containsExactly("worker/target/medfuse-worker-*.jar",
                "/app/medfuse-worker.jar"));
        assertThat(d.copies()).anySatisfy(c -> assertThat(c).containsExactly("worker/target/lib/", "/app/lib/"));
        assertThat(d.exposed()).containsExactly(METRICS_PORT);
    }

    @Test
    void cpuImageRunsTheWorkerOnAJreWithoutGpuTrainerOrBrokerJars() throws Exception {
        Dockerfile d = dockerfile("Dockerfile");
        assertThat(d.from()).containsExactly("eclipse-temurin:17-jre-jammy");
        copiesWhatTheBuildProduces(d);
        runsTheWorkerMain(d);
        assertThat(d.text()).contains("onnxruntime_gpu|djl", "kafka_2");
    }

    @Test
    void gpuImageRunsTheWorkerOnCuda12WithCudnn9AndTheGpuBuild() throws Exception {
        Dockerfile d = dockerfile("Dockerfile.gpu");
        assertThat(d.from()).hasSize(2);
        assertThat(d.from().get(1)).matches("nvidia/cuda:12\\.\\d+\\.\\d+-cudnn-runtime-ubuntu\\d\\d\\.04");
        assertThat(d.text()).contains("-Pgpu", "onnxruntime_gpu-*.jar", "MEDFUSE_MODEL_DEVICE=cuda");
        copiesWhatTheBuildProduces(d);
        runsTheWorkerMain(d);
        String parentPom = Files.readString(ROOT.resolve("pom.xml"));
        assertThat(parentPom).contains("<id>gpu</id>", "<onnxruntime.artifact>onnxruntime_gpu</onnxruntime.artifact>");
    }

    @Test
    void toolsImageRunsTheCommandLineWithTheSamples() throws Exception {
        Dockerfile d = dockerfile("Dockerfile.tools");
        copiesWhatTheBuildProduces(d);
        List<String> args = jsonArray(d.entrypoint());
        // the app module is not on this module's classpath: check the class by its source file
        assertThat(args).contains("io.medfuse.app.Medfuse");
        assertThat(ROOT.resolve("app/src/main/java/io/medfuse/app/Medfuse.java")).exists();
        assertThat(ROOT.resolve("docker/samples/metadata.csv")).exists();
    }

    // ---------------------------------------------------------------- docker-compose.yml

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object o) {
        assertThat(o).isInstanceOf(Map.class);
        return (Map<String, Object>) o;
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(Object o) {
        assertThat(o).isInstanceOf(List.class);
        return (List<Object>) o;
    }

    private static Object at(Object node, String... path) {
        Object o = node;
        for (String p : path) {
            o = map(o).get(p);
            assertThat(o).as("%s in %s", p, String.join(".", path)).isNotNull();
        }
        return o;
    }

    private static Properties properties(String text) throws IOException {
        Properties p = new Properties();
        p.load(new StringReader(text));
        return p;
    }

    @Test
    void composeRunsKafkaARealRegistryTopicsTheWorkerAndAProducer() throws Exception {
        Map<String, Object> compose = map(new Yaml().load(Files.readString(ROOT.resolve("docker-compose.yml"))));
        Map<String, Object> services = map(compose.get("services"));
        assertThat(services).containsKeys("kafka", "schema-registry", "topics", "worker", "producer");
        assertThat((String) at(services, "kafka", "image")).startsWith("apache/kafka:");
        assertThat(map(at(services, "kafka", "environment"))).containsEntry("KAFKA_PROCESS_ROLES",
                "broker,controller");
        assertThat((String) at(services, "schema-registry", "image")).startsWith("confluentinc/cp-schema-registry:");
        assertThat(String.join("\n", list(at(services, "topics", "command")).stream().map(String::valueOf)
                .toList())).contains("--topic medfuse.requests --partitions " + partitions());

        assertThat(at(services, "worker", "build", "dockerfile")).isEqualTo("Dockerfile");
        assertThat(at(services, "worker", "image")).isEqualTo("medfuse/worker:0.1.0");
        assertThat(list(at(services, "worker", "ports"))).contains(METRICS_PORT + ":" + METRICS_PORT);
        assertThat(list(at(services, "worker", "volumes")))
                .contains("./docker/worker.properties:/config/worker.properties:ro");
        assertThat(at(services, "producer", "build", "dockerfile")).isEqualTo("Dockerfile.tools");
        List<Object> produce = list(at(services, "producer", "command"));
        assertThat(produce.get(0)).isEqualTo("produce");
        assertThat(produce).contains("kafka:9092", "http://schema-registry:8081", "/samples/images",
                "/samples/metadata.csv");

        Properties worker = properties(Files.readString(ROOT.resolve("docker/worker.properties")));
        assertThat(worker.getProperty("bootstrap.servers")).isEqualTo("kafka:9092");
        assertThat(worker.getProperty("schema.registry.url")).isEqualTo("http://schema-registry:8081");
        assertThat(worker.getProperty("metrics.port")).isEqualTo(String.valueOf(METRICS_PORT));
        WorkerConfig.load(worker, Map.of(), Map.of()); // every key known and valid
    }

    // ---------------------------------------------------------------- Kubernetes

    private record Manifest(Path file, Map<String, Object> doc) {
        String kind() {
            return (String) doc.get("kind");
        }

        String name() {
            return (String) map(doc.get("metadata")).get("name");
        }
    }

    private static List<Manifest> manifests() throws IOException {
        List<Manifest> out = new ArrayList<>();
        try (Stream<Path> files = Files.walk(ROOT.resolve("deploy"))) {
            for (Path f : files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList()) {
                for (Object doc : new Yaml().loadAll(Files.readString(f))) {
                    if (doc != null) {
                        out.add(new Manifest(f, map(doc)));
                    }
                }
            }
        }
        return out;
    }

    private static Manifest one(List<Manifest> all, String variant, String kind) {
        List<Manifest> found = all.stream().filter(m -> m.kind().equals(kind))
                .filter(m -> variant == null || m.file().getParent().getFileName().toString().equals(variant))
                .toList();
        assertThat(found).as("%s in deploy/%s", kind, variant).hasSize(1);
        return found.get(0);
    }

    /** The requests topic's partition count in docker-compose.yml and the README's topic set-up. */
    private static int partitions() {
        return 6;
    }

    /** The monitoring files parse, and every rule and panel has what Prometheus and Grafana need. */
    @Test
    void theAlertRulesAndTheDashboardAreWellFormed() throws Exception {
        Manifest rules = one(manifests(), "monitoring", "PrometheusRule");
        List<Object> groups = list(map(rules.doc().get("spec")).get("groups"));
        assertThat(groups).isNotEmpty();
        Set<String> alerts = new java.util.TreeSet<>();
        for (Object g : groups) {
            for (Object r : list(map(g).get("rules"))) {
                Map<String, Object> rule = map(r);
                assertThat(rule).containsKeys("alert", "expr", "for", "labels", "annotations");
                alerts.add((String) rule.get("alert"));
            }
        }
        assertThat(alerts).contains("MedfusePipelineStalled", "MedfuseConsumerLagHigh", "MedfuseDeadLetterRateHigh",
                "MedfuseReferralRateHigh", "MedfuseModelRefused", "MedfuseModelVersionsDiffer");
        com.fasterxml.jackson.databind.JsonNode dashboard = new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(ROOT.resolve("deploy/monitoring/grafana-dashboard.json").toFile());
        assertThat(dashboard.path("uid").asText()).isEqualTo("medfuse-workers");
        assertThat(dashboard.path("panels")).hasSizeGreaterThanOrEqualTo(8);
        for (com.fasterxml.jackson.databind.JsonNode panel : dashboard.path("panels")) {
            assertThat(panel.path("targets")).as(panel.path("title").asText()).isNotEmpty();
            for (com.fasterxml.jackson.databind.JsonNode t : panel.path("targets")) {
                assertThat(t.path("expr").asText()).contains("medfuse_");
            }
        }
    }

    @Test
    void everyManifestParsesWithAKnownKindAndAName() throws Exception {
        Set<String> kinds = Set.of("Kustomization", "ConfigMap", "Service", "Deployment", "PodDisruptionBudget",
                "ScaledObject", "TriggerAuthentication", "Secret", "PrometheusRule");
        List<Manifest> all = manifests();
        assertThat(all).hasSizeGreaterThanOrEqualTo(12);
        for (Manifest m : all) {
            assertThat(m.doc()).as(m.file().toString()).containsKeys("apiVersion", "kind");
            assertThat(kinds).as(m.file().toString()).contains(m.kind());
            if (!m.kind().equals("Kustomization")) {
                assertThat(m.name()).as(m.file().toString()).isNotBlank();
            } else {
                for (Object r : list(m.doc().get("resources"))) {
                    assertThat(m.file().getParent().resolve((String) r)).as("%s: resource %s", m.file(), r).exists();
                }
            }
        }
    }

    @Test
    void deploymentsProbeTheHealthEndpointsAndReadTheConfigMapAndTheSecret() throws Exception {
        List<Manifest> all = manifests();
        Manifest configMap = one(all, "base", "ConfigMap");
        for (String variant : List.of("cpu", "gpu")) {
            Manifest d = one(all, variant, "Deployment");
            String where = d.file().toString();
            Map<String, Object> spec = map(d.doc().get("spec"));
            Map<String, Object> selector = map(at(spec, "selector", "matchLabels"));
            assertThat(map(at(spec, "template", "metadata", "labels"))).as(where).containsAllEntriesOf(selector);
            Map<String, Object> pod = map(at(spec, "template", "spec"));
            Map<String, Object> c = map(list(pod.get("containers")).get(0));
            assertThat((String) c.get("image")).as(where)
                    .isEqualTo(variant.equals("gpu") ? "medfuse/worker:0.1.0-gpu" : "medfuse/worker:0.1.0");
            Map<String, Object> port = map(list(c.get("ports")).get(0));
            assertThat(port).containsEntry("name", "metrics").containsEntry("containerPort", METRICS_PORT);
            assertThat(at(c, "livenessProbe", "httpGet", "path")).isEqualTo("/health/live");
            assertThat(at(c, "livenessProbe", "httpGet", "port")).isEqualTo("metrics");
            assertThat(at(c, "readinessProbe", "httpGet", "path")).isEqualTo("/health/ready");
            assertThat(at(c, "readinessProbe", "httpGet", "port")).isEqualTo("metrics");
            assertThat(at(c, "startupProbe", "httpGet", "path")).isEqualTo("/health/live");
            assertThat(map(at(c, "resources", "requests"))).containsKeys("cpu", "memory");
            assertThat(map(at(c, "resources", "limits"))).containsKey("memory");

            Map<String, Object> jaas = list(c.get("env")).stream().map(DeploymentFilesTest::map)
                    .filter(e -> "MEDFUSE_KAFKA_SASL_JAAS_CONFIG".equals(e.get("name"))).findFirst().orElseThrow();
            assertThat(at(jaas, "valueFrom", "secretKeyRef", "name")).isEqualTo("medfuse-kafka-credentials");
            assertThat(at(jaas, "valueFrom", "secretKeyRef", "key")).isEqualTo("sasl.jaas.config");

            Map<String, Object> mount = list(c.get("volumeMounts")).stream().map(DeploymentFilesTest::map)
                    .filter(m -> "/config".equals(m.get("mountPath"))).findFirst().orElseThrow();
            Map<String, Object> volume = list(pod.get("volumes")).stream().map(DeploymentFilesTest::map)
                    .filter(v -> v.get("name").equals(mount.get("name"))).findFirst().orElseThrow();
            assertThat(at(volume, "configMap", "name")).isEqualTo(configMap.name());

            Manifest pdb = one(all, variant, "PodDisruptionBudget");
            assertThat(map(at(pdb.doc(), "spec", "selector", "matchLabels"))).isEqualTo(selector);

            if (variant.equals("gpu")) {
                assertThat(map(at(c, "resources", "limits"))).containsEntry("nvidia.com/gpu", 1);
                assertThat(map(pod.get("nodeSelector"))).isNotEmpty();
                assertThat(list(pod.get("tolerations"))).anySatisfy(t -> assertThat(map(t))
                        .containsEntry("key", "nvidia.com/gpu"));
            }
        }
        Manifest service = one(all, "base", "Service");
        assertThat(map(list(at(service.doc(), "spec", "ports")).get(0))).containsEntry("port", METRICS_PORT);
    }

    @Test
    void oneConsumerGroupAcrossConfigMapKedaAndComposeAndScalingStaysWithinThePartitions() throws Exception {
        List<Manifest> all = manifests();
        Properties config = properties((String) at(one(all, "base", "ConfigMap").doc(), "data", "worker.properties"));
        WorkerConfig.load(config, Map.of(), Map.of()); // every key known and valid
        String group = config.getProperty(WorkerConfig.APPLICATION_ID);
        assertThat(group).isEqualTo("medfuse-worker");
        assertThat(config.getProperty(WorkerConfig.METRICS_PORT)).isEqualTo(String.valueOf(METRICS_PORT));
        Properties compose = properties(Files.readString(ROOT.resolve("docker/worker.properties")));
        assertThat(compose.getProperty(WorkerConfig.APPLICATION_ID)).isEqualTo(group);

        Manifest auth = one(all, "base", "TriggerAuthentication");
        for (String variant : List.of("cpu", "gpu")) {
            Manifest so = one(all, variant, "ScaledObject");
            Manifest d = one(all, variant, "Deployment");
            assertThat(at(so.doc(), "spec", "scaleTargetRef", "name")).isEqualTo(d.name());
            Map<String, Object> trigger = map(list(at(so.doc(), "spec", "triggers")).get(0));
            assertThat(trigger.get("type")).isEqualTo("kafka");
            assertThat(at(trigger, "metadata", "consumerGroup")).isEqualTo(group);
            assertThat(at(trigger, "metadata", "topic")).isEqualTo(config.getProperty(WorkerConfig.TOPIC_REQUESTS));
            assertThat(at(trigger, "metadata", "bootstrapServers"))
                    .isEqualTo(config.getProperty(WorkerConfig.BOOTSTRAP_SERVERS));
            assertThat(at(trigger, "metadata", "allowIdleConsumers")).isEqualTo("false");
            assertThat(at(trigger, "authenticationRef", "name")).isEqualTo(auth.name());
            int partitions = Integer.parseInt((String) at(so.doc(), "metadata", "annotations",
                    "medfuse.io/requests-partitions"));
            assertThat(partitions).isEqualTo(partitions());
            assertThat((Integer) at(so.doc(), "spec", "maxReplicaCount")).isBetween(1, partitions);
        }
    }
}
