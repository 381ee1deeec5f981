package io.medfuse.events.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.Schema;

/**
 * {@link SchemaRegistryClient} over the Confluent Schema Registry REST API, with {@link java.net.http.HttpClient}.
 *
 * <p>Thread-safe. Answers are cached for the life of the client (ids are immutable in every registry); failures
 * are not cached, so a registry that comes back is used again. Two threads missing the cache at once may both ask
 * the registry; both get the same answer.
 */
public final class RestSchemaRegistryClient implements SchemaRegistryClient {

    static final String CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final RegistrySettings settings;
    private final String baseUrl;
    private final String authorization;
    private final HttpClient http;
    /**
     * Registered or looked-up ids (both mean: this schema is under this subject). Keyed by the schema's full JSON:
     * two schemas that differ only in docs are different registry entries.
     */
    private final Map<SubjectSchema, Integer> idBySubjectSchema = new ConcurrentHashMap<>();
    private final Map<Integer, Schema> schemaById = new ConcurrentHashMap<>();

    private record SubjectSchema(String subject, String schemaJson) {}

    public RestSchemaRegistryClient(RegistrySettings settings) {
        this.settings = settings;
        String url = settings.url().toString();
        // Keep any path prefix (Apicurio's /apis/ccompat/v7); API paths are appended to it.
        this.baseUrl = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
        this.authorization = settings.basicAuthUser() == null
                ? null
                : "Basic " + Base64.getEncoder().encodeToString(
                        (settings.basicAuthUser() + ":" + settings.basicAuthPassword()).getBytes(StandardCharsets.UTF_8));
        this.http = HttpClient.newBuilder().connectTimeout(settings.timeout()).build();
    }

    @Override
    public int register(String subject, Schema schema) {
        SubjectSchema key = new SubjectSchema(subject, schema.toString());
        Integer cached = idBySubjectSchema.get(key);
        if (cached != null) {
            return cached;
        }
        JsonNode answer = call("POST", "/subjects/" + encode(subject) + "/versions", schemaBody(key.schemaJson()));
        int id = requireInt(answer, "id", "/subjects/" + subject + "/versions");
        idBySubjectSchema.putIfAbsent(key, id);
        // We know the schema behind this id now: a consumer in the same process need not fetch it.
        schemaById.putIfAbsent(id, schema);
        return id;
    }

    @Override
    public int lookup(String subject, Schema schema) {
        SubjectSchema key = new SubjectSchema(subject, schema.toString());
        Integer cached = idBySubjectSchema.get(key);
        if (cached != null) {
            return cached;
        }
        JsonNode answer = call("POST", "/subjects/" + encode(subject), schemaBody(key.schemaJson()));
        int id = requireInt(answer, "id", "/subjects/" + subject);
        idBySubjectSchema.putIfAbsent(key, id);
        schemaById.putIfAbsent(id, schema);
        return id;
    }

    @Override
    public Schema schemaById(int id) {
        Schema cached = schemaById.get(id);
        if (cached != null) {
            return cached;
        }
        String path = "/schemas/ids/" + id;
        JsonNode answer;
        try {
            answer = call("GET", path, null);
        } catch (SchemaRegistryException e) {
            if (e.status() == 404 || e.errorCode() == 40403) {
                throw new UnknownSchemaException(id, e.getMessage(), e.status(), e.errorCode());
            }
            throw e;
        }
        JsonNode type = answer.get("schemaType");
        if (type != null && !type.isNull() && !"AVRO".equalsIgnoreCase(type.asText())) {
            throw new SchemaRegistryException("schema id " + id + " at " + describe(path) + " is a "
                    + type.asText() + " schema, not Avro", 200, 0);
        }
        JsonNode text = answer.get("schema");
        if (text == null || !text.isTextual()) {
            throw new SchemaRegistryException("answer from " + describe(path) + " has no \"schema\" string", 200, 0);
        }
        Schema schema;
        try {
            schema = new Schema.Parser().parse(text.asText());
        } catch (RuntimeException e) { // SchemaParseException, AvroTypeException, ...
            throw new SchemaRegistryException("schema id " + id + " from " + describe(path)
                    + " is not a valid Avro schema: " + e.getMessage(), 200, 0, e);
        }
        Schema previous = schemaById.putIfAbsent(id, schema);
        return previous != null ? previous : schema;
    }

    @Override
    public String toString() {
        return "RestSchemaRegistryClient[" + settings + "]";
    }

    private JsonNode call(String method, String path, String body) {
        URI uri = URI.create(baseUrl + path);
        HttpRequest.Builder request = HttpRequest.newBuilder(uri)
                .timeout(settings.timeout())
                .header("Accept", CONTENT_TYPE + ", application/json")
                .method(method, body == null
                        ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
        if (body != null) {
            request.header("Content-Type", CONTENT_TYPE);
        }
        if (authorization != null) {
            request.header("Authorization", authorization);
        }
        HttpResponse<String> response;
        try {
            HttpRequest built = request.build();
            try {
                response = http.send(built, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            } catch (java.net.http.HttpTimeoutException | java.net.ConnectException down) {
                throw down; // no registry answering: nothing to gain from asking again at once
            } catch (IOException stale) {
                // a kept-alive connection the registry closed while idle fails the next request before any answer
                // ("header parser received no bytes"); the JDK client retries only GETs by itself. Every call here
                // is idempotent (a lookup, or registering a schema, which returns the same id again): once more,
                // on a new connection
                response = http.send(built, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            }
        } catch (IOException e) {
            throw new SchemaRegistryException("schema registry at " + describe(path) + " unreachable: " + e,
                    SchemaRegistryException.NO_RESPONSE, 0, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SchemaRegistryException("interrupted while calling schema registry at " + describe(path),
                    SchemaRegistryException.NO_RESPONSE, 0, e);
        }
        JsonNode json = parseOrNull(response.body());
        if (response.statusCode() / 100 != 2) {
            int errorCode = json != null && json.path("error_code").canConvertToInt() ? json.path("error_code").asInt() : 0;
            String message = json != null && json.hasNonNull("message")
                    ? json.get("message").asText()
                    : abbreviate(response.body());
            throw new SchemaRegistryException("schema registry at " + describe(path) + " answered " + method
                    + " with HTTP " + response.statusCode() + (errorCode != 0 ? " (error_code " + errorCode + ")" : "")
                    + ": " + message, response.statusCode(), errorCode);
        }
        if (json == null) {
            throw new SchemaRegistryException("schema registry at " + describe(path)
                    + " answered with something that is not JSON: " + abbreviate(response.body()),
                    response.statusCode(), 0);
        }
        return json;
    }

    private String describe(String path) {
        return RegistrySettings.redact(URI.create(baseUrl + path));
    }

    private int requireInt(JsonNode answer, String field, String path) {
        JsonNode value = answer.get(field);
        if (value == null || !value.canConvertToInt()) {
            throw new SchemaRegistryException("answer from " + describe(path) + " has no integer \"" + field + "\": "
                    + abbreviate(answer.toString()), 200, 0);
        }
        return value.asInt();
    }

    private static String schemaBody(String schemaJson) {
        return JSON.createObjectNode().put("schema", schemaJson).toString();
    }

    private static JsonNode parseOrNull(String body) {
        if (body == null || body.isBlank()) {
            return null;
        }
        try {
            return JSON.readTree(body);
        } catch (IOException e) {
            return null;
        }
    }

    private static String encode(String pathSegment) {
        return URLEncoder.encode(pathSegment, StandardCharsets.UTF_8).replace("+", "%20");
    }

    private static String abbreviate(String text) {
        if (text == null || text.isEmpty()) {
            return "(empty body)";
        }
        return text.length() <= 300 ? text : text.substring(0, 300) + "...";
    }
}
