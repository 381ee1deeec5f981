package io.medfuse.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Speaks raw HTTP to the in-process registry, as any Confluent-API client would. */
class InProcessSchemaRegistryTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Schema V1 = SchemaBuilder.record("Visit").namespace("test")
            .fields().requiredString("id").endRecord();
    private static final Schema V2 = SchemaBuilder.record("Visit").namespace("test")
            .fields().requiredString("id").optionalString("ward").endRecord();
    private static final Schema OTHER = SchemaBuilder.record("Ward").namespace("test")
            .fields().requiredString("name").endRecord();

    private final HttpClient http = HttpClient.newHttpClient();
    private InProcessSchemaRegistry registry;

    @BeforeEach
    void start() {
        registry = InProcessSchemaRegistry.start(0);
    }

    @AfterEach
    void stop() {
        registry.close();
    }

    @Test
    void assignsGlobalIdsFromOneAndReturnsTheSameIdForTheSameSchema() throws Exception {
        assertThat(post("/subjects/visits-value/versions", V1).body().get("id").asInt()).isEqualTo(1);
        assertThat(post("/subjects/wards-value/versions", OTHER).body().get("id").asInt()).isEqualTo(2);
        assertThat(post("/subjects/visits-value/versions", V1).body().get("id").asInt()).isEqualTo(1);
        // the same schema under another subject keeps its global id
        assertThat(post("/subjects/visits-copy-value/versions", V1).body().get("id").asInt()).isEqualTo(1);
        assertThat(post("/subjects/visits-value/versions", V2).body().get("id").asInt()).isEqualTo(3);

        assertThat(get("/subjects").body()).containsExactly(
                JSON.valueToTree("visits-value"), JSON.valueToTree("wards-value"), JSON.valueToTree("visits-copy-value"));
        assertThat(get("/subjects/visits-value/versions").body().toString()).isEqualTo("[1,2]");
        JsonNode latest = get("/subjects/visits-value/versions/latest").body();
        assertThat(latest.get("subject").asText()).isEqualTo("visits-value");
        assertThat(latest.get("version").asInt()).isEqualTo(2);
        assertThat(latest.get("id").asInt()).isEqualTo(3);
        assertThat(new Schema.Parser().parse(latest.get("schema").asText())).isEqualTo(V2);
        assertThat(get("/subjects/visits-value/versions/1").body().get("id").asInt()).isEqualTo(1);
        assertThat(new Schema.Parser().parse(get("/schemas/ids/2").body().get("schema").asText())).isEqualTo(OTHER);
    }

    @Test
    void refusesABackwardIncompatibleVersionWith409() throws Exception {
        post("/subjects/visits-value/versions", V2);

        // V1 cannot read data written with V2? It can (extra writer field is skipped), so V1 after V2 is accepted.
        assertThat(post("/subjects/visits-value/versions", V1).status()).isEqualTo(200);
        Schema requiredWard = SchemaBuilder.record("Visit").namespace("test")
                .fields().requiredString("id").requiredString("ward").endRecord();
        Answer refused = post("/subjects/visits-value/versions", requiredWard);

        assertThat(refused.status()).isEqualTo(409);
        assertThat(refused.body().get("error_code").asInt()).isEqualTo(409);
        assertThat(refused.body().get("message").asText()).contains("ward");
        assertThat(get("/subjects/visits-value/versions").body().size()).isEqualTo(2);
    }

    @Test
    void compatibilityNoneOnASubjectLetsAnIncompatibleVersionInAndOtherSubjectsStayBackward() throws Exception {
        Schema requiredWard = SchemaBuilder.record("Visit").namespace("test")
                .fields().requiredString("id").requiredString("ward").endRecord();
        post("/subjects/visits-value/versions", V1);
        post("/subjects/checked-value/versions", V1);

        Answer set = put("/config/visits-value", "{\"compatibility\":\"NONE\"}");

        assertThat(set.status()).isEqualTo(200);
        assertThat(set.body().get("compatibility").asText()).isEqualTo("NONE");
        assertThat(get("/config/visits-value").body().get("compatibilityLevel").asText()).isEqualTo("NONE");
        assertThat(get("/config").body().get("compatibilityLevel").asText()).isEqualTo("BACKWARD");
        assertThat(post("/subjects/visits-value/versions", requiredWard).status()).isEqualTo(200);
        assertThat(post("/subjects/checked-value/versions", requiredWard).status()).isEqualTo(409);
        Answer unsupported = put("/config/visits-value", "{\"compatibility\":\"FULL_TRANSITIVE\"}");
        assertThat(unsupported.status()).isEqualTo(422);
        assertThat(unsupported.body().get("error_code").asInt()).isEqualTo(42203);
    }

    @Test
    void lookUpAnswersNotFoundWithConfluentErrorCodes() throws Exception {
        post("/subjects/visits-value/versions", V1);

        assertThat(post("/subjects/visits-value", V1).body().get("version").asInt()).isEqualTo(1);
        Answer noSubject = post("/subjects/nothing-value", V1);
        assertThat(noSubject.status()).isEqualTo(404);
        assertThat(noSubject.body().get("error_code").asInt()).isEqualTo(40401);
        Answer noSchema = post("/subjects/visits-value", OTHER);
        assertThat(noSchema.status()).isEqualTo(404);
        assertThat(noSchema.body().get("error_code").asInt()).isEqualTo(40403);
        Answer noId = get("/schemas/ids/99");
        assertThat(noId.status()).isEqualTo(404);
        assertThat(noId.body().get("error_code").asInt()).isEqualTo(40403);
        assertThat(get("/subjects/visits-value/versions/7").body().get("error_code").asInt()).isEqualTo(40402);
    }

    @Test
    void refusesInvalidSchemasWith422() throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(uri("/subjects/x-value/versions"))
                .header("Content-Type", "application/vnd.schemaregistry.v1+json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"schema\":\"{\\\"type\\\":\\\"nonsense\\\"}\"}"))
                .build(), HttpResponse.BodyHandlers.ofString());

        assertThat(response.statusCode()).isEqualTo(422);
        assertThat(JSON.readTree(response.body()).get("error_code").asInt()).isEqualTo(42201);
        assertThat(response.headers().firstValue("Content-Type")).hasValue("application/vnd.schemaregistry.v1+json");
    }

    private record Answer(int status, JsonNode body) {}

    private Answer post(String path, Schema schema) throws Exception {
        String body = JSON.createObjectNode().put("schema", schema.toString()).toString();
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(uri(path))
                .header("Content-Type", "application/vnd.schemaregistry.v1+json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        return new Answer(response.statusCode(), JSON.readTree(response.body()));
    }

    private Answer put(String path, String body) throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(uri(path))
                .header("Content-Type", "application/vnd.schemaregistry.v1+json")
                .PUT(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        return new Answer(response.statusCode(), JSON.readTree(response.body()));
    }

    private Answer get(String path) throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(uri(path)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        return new Answer(response.statusCode(), JSON.readTree(response.body()));
    }

    private URI uri(String path) {
        return URI.create(registry.url() + path);
    }
}
