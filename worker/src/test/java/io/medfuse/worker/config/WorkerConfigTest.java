package io.medfuse.worker.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import java.util.Properties;

import org.apache.kafka.common.config.ConfigException;
import org.junit.jupiter.api.Test;

import io.medfuse.worker.MedfuseWorker;

class WorkerConfigTest {

    private static Properties file(String... kv) {
        Properties p = new Properties();
        for (int i = 0; i < kv.length; i += 2) {
            p.setProperty(kv[i], kv[i + 1]);
        }
        return p;
    }

    @Test
    void appliesDefaultsFileEnvironmentAndOverridesInThatOrder() {
        WorkerConfig c = WorkerConfig.load(
                file("bootstrap.servers", "file:9092", "schema.registry.url", "http://r:8081", "batch.max.size", "8"),
                Map.of("MEDFUSE_BATCH_MAX_SIZE", "16", "MEDFUSE_BOOTSTRAP_SERVERS", "env:9092", "PATH", "/bin"),
                Map.of("bootstrap.servers", "cli:9092"));
        assertThat(c.bootstrapServers()).isEqualTo("cli:9092");
        assertThat(c.batchMaxSize()).isEqualTo(16);
        assertThat(c.batchMaxQueueDelayMs()).isEqualTo(10);
        assertThat(c.requestsTopic()).isEqualTo("medfuse.requests");
        assertThat(c.streamsProperties().get("processing.guarantee")).isEqualTo("exactly_once_v2");
    }

    @Test
    void passesKafkaPrefixedKeysToTheClientsFromFileAndEnvironment() {
        WorkerConfig c = WorkerConfig.load(
                file("bootstrap.servers", "b:9092", "schema.registry.url", "http://r", "kafka.security.protocol",
                        "SASL_SSL"),
                Map.of("MEDFUSE_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"), Map.of());
        assertThat(c.streamsProperties()).containsEntry("security.protocol", "SASL_SSL")
                .containsEntry("sasl.mechanism", "SCRAM-SHA-512");
    }

    @Test
    void reportsEveryProblemAtOnce() {
        assertThatThrownBy(() -> WorkerConfig.load(file("batch.max.size", "0", "no.such.key", "1"), Map.of(),
                Map.of()))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("bootstrap.servers")
                .hasMessageContaining("schema.registry.url")
                .hasMessageContaining("no.such.key");
    }

    @Test
    void reportsEveryBadValueTogetherWithUnknownAndRemovedKeys() {
        assertThatThrownBy(() -> WorkerConfig.load(file("bootstrap.servers", "b", "schema.registry.url", "http://r",
                "image.reference.schemes", "file", "batch.max.sise", "8"), Map.of(),
                Map.of("batch.max.size", "abc", "image.max.pixels", "-5",
                        "image.reference.file.roots", "/no/such/folder")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("5 problems")
                .hasMessageContaining("batch.max.size")
                .hasMessageContaining("image.max.pixels")
                .hasMessageContaining("unknown key 'batch.max.sise'")
                .hasMessageContaining("image.reference.schemes' was removed")
                .hasMessageContaining("/no/such/folder is not an existing folder");
    }

    @Test
    void refusesEveryImageReferenceUnlessAPlaceIsAllowed() {
        WorkerConfig c = WorkerConfig.load(file("bootstrap.servers", "b", "schema.registry.url", "http://r"),
                Map.of(), Map.of());
        assertThat(c.referencePolicy().refusesEverything()).isTrue();
        assertThat(c.deadLetterMaxOriginalBytes()).as("dead letters carry no patient data by default").isZero();
    }

    @Test
    void rejectsInvalidValuesWithTheKeyName() {
        assertThatThrownBy(() -> WorkerConfig.load(file("bootstrap.servers", "b", "schema.registry.url", "http://r",
                "model.device", "tpu"), Map.of(), Map.of()))
                .hasMessageContaining("model.device").hasMessageContaining("cuda");
        assertThatThrownBy(() -> WorkerConfig.load(file("bootstrap.servers", "b", "schema.registry.url", "http://r",
                "batch.max.size", "64"), Map.of(), Map.of()))
                .hasMessageContaining("batch.padded.sizes");
    }

    @Test
    void namesThePatientInFhirDocumentsOnlyWithAnAbsoluteSystemAndAFhirTopic() {
        WorkerConfig off = WorkerConfig.load(file("bootstrap.servers", "b", "schema.registry.url", "http://r",
                "output.fhir.topic", "fhir"), Map.of(), Map.of());
        assertThat(off.fhirPatientIdentifierSystem()).as("no patient identifier by default").isNull();
        assertThat(MedfuseWorker.pipelineSettings(off).readsPatientId()).isFalse();
        WorkerConfig on = WorkerConfig.load(file("bootstrap.servers", "b", "schema.registry.url", "http://r",
                "output.fhir.topic", "fhir", "output.fhir.patient.identifier.system", "urn:oid:1.2.3.4"),
                Map.of(), Map.of());
        assertThat(on.fhirPatientIdentifierSystem()).isEqualTo("urn:oid:1.2.3.4");
        assertThat(MedfuseWorker.pipelineSettings(on).readsPatientId()).isTrue();
        assertThatThrownBy(() -> WorkerConfig.load(file("bootstrap.servers", "b", "schema.registry.url", "http://r",
                "output.fhir.patient.identifier.system", "mrn|x"), Map.of(), Map.of()))
                .hasMessageContaining("2 problems")
                .hasMessageContaining("output.fhir.topic is empty")
                .hasMessageContaining("must be an absolute URI");
    }

    @Test
    void masksSecretsWhenDescribed() {
        WorkerConfig c = WorkerConfig.load(file("bootstrap.servers", "b", "schema.registry.url", "http://r",
                "schema.registry.basic.auth.user.info", "u:secret", "kafka.sasl.jaas.config", "x password=\"p\";"),
                Map.of(), Map.of());
        assertThat(c.describe().toString()).doesNotContain("secret").doesNotContain("password=");
        assertThat(c.registryUserInfo()).isEqualTo("u:secret");
    }

    @Test
    void documentsEveryKeyWithItsEnvironmentVariable() {
        String table = WorkerConfig.markdownTable();
        for (String key : WorkerConfig.definition().names()) {
            assertThat(table).contains("`" + key + "`").contains(WorkerConfig.envName(key));
        }
    }
}
