package io.medfuse.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;

/**
 * A minimal Confluent-compatible schema registry served over HTTP on 127.0.0.1, <b>for the embedded demo and for
 * tests only</b>. It keeps everything in memory, forgets it on {@link #close()}, has no persistence, no
 * replication and no deletes. Production uses a real registry (Confluent, Karapace,
 * Redpanda, Apicurio's {@code ccompat} API) through {@link RestSchemaRegistryClient}.
 *
 * <p>Served, under an optional path prefix:
 * <ul>
 *   <li>{@code POST /subjects/{subject}/versions}: registers; the same schema again returns the same id; a new
 *       version must be BACKWARD compatible with the subject's latest version (checked with Avro's
 *       {@link SchemaCompatibility}: the new schema, as reader, reads data written with the latest), else HTTP 409
 *       {@code {"error_code":409,"message":...}}, unless the subject's compatibility is NONE. Ids are global (the
 *       same schema under two subjects has one id) and increase from 1 without gaps (a real registry may skip
 *       ids: docs/schema-evolution.md).</li>
 *   <li>{@code PUT /config} and {@code PUT /config/{subject}} with {@code {"compatibility":"BACKWARD"|"NONE"}}
 *       (other levels: 422 with 42203), {@code GET /config[/{subject}]}. The global default is BACKWARD, as on
 *       Confluent's registry; Apicurio's is NONE.</li>
 *   <li>{@code POST /subjects/{subject}}: looks a schema up under a subject (404 with 40401 / 40403 when not
 *       found).</li>
 *   <li>{@code GET /schemas/ids/{id}} (404 with 40403 when unknown), {@code GET /subjects},
 *       {@code GET /subjects/{subject}/versions}, {@code GET /subjects/{subject}/versions/{version|latest}}.</li>
 * </ul>
 * Optionally it requires HTTP basic authentication (401 otherwise). It counts the requests it serves, so tests can
 * check a client's caching. Thread-safe.
 */
public final class InProcessSchemaRegistry implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";

    /** Replaced by {@link #restart()}; the port stays. */
    private volatile HttpServer server;
    private final int port;
    private final ExecutorService executor;
    private final String pathPrefix;
    private final byte[] expectedAuthorization;

    private final Object lock = new Object();
    /** Guarded by {@link #lock}. */
    private final Map<Integer, String> schemaTextById = new HashMap<>();
    /** Guarded by {@link #lock}; keyed by the parsed schema's full JSON. */
    private final Map<String, Integer> idBySchemaText = new HashMap<>();
    /** Guarded by {@link #lock}; versions in order, version n at index n-1. */
    private final Map<String, List<Integer>> versionsBySubject = new LinkedHashMap<>();
    private int nextId = 1;
    /** Guarded by {@link #lock}. */
    private String globalCompatibility = "BACKWARD";
    /** Guarded by {@link #lock}. */
    private final Map<String, String> compatibilityBySubject = new HashMap<>();

    private final AtomicLong requestCount = new AtomicLong();
    private final List<String> requestLog = java.util.Collections.synchronizedList(new ArrayList<>());

    private InProcessSchemaRegistry(int port, String pathPrefix, String user, String password) throws IOException {
        this.pathPrefix = normalizePrefix(pathPrefix);
        this.expectedAuthorization = user == null ? null : ("Basic " + Base64.getEncoder().encodeToString(
                (user + ":" + password).getBytes(StandardCharsets.UTF_8))).getBytes(StandardCharsets.UTF_8);
        AtomicInteger threads = new AtomicInteger();
        this.executor = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "in-process-schema-registry-" + threads.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.server = listen(port);
        this.port = server.getAddress().getPort();
    }

    private HttpServer listen(int onPort) throws IOException {
        HttpServer s = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), onPort), 0);
        s.setExecutor(executor);
        s.createContext("/", this::handle);
        s.start();
        return s;
    }

    /**
     * Stops answering, as a registry that went down: connections to its port are refused until {@link #restart()}.
     * What it stores is kept (tests and the soak use this as a registry outage).
     */
    public void stop() {
        server.stop(0);
    }

    /** Listens again on the same port, with everything it stored before {@link #stop()}. */
    public void restart() {
        try {
            server = listen(port);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen on port " + port + " again", e);
        }
    }

    /** Starts a registry on 127.0.0.1:{@code port} (0 = an ephemeral port), no path prefix, no authentication. */
    public static InProcessSchemaRegistry start(int port) {
        return builder().port(port).start();
    }

    /** Starts a registry that requires HTTP basic authentication with {@code user} and {@code password}. */
    public static InProcessSchemaRegistry start(int port, String user, String password) {
        return builder().port(port).basicAuth(user, password).start();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Options for {@link InProcessSchemaRegistry}. */
    public static final class Builder {
        private int port;
        private String pathPrefix = "";
        private String user;
        private String password;

        private Builder() {}

        /** 0 (the default) picks an ephemeral port. */
        public Builder port(int port) {
            this.port = port;
            return this;
        }

        /** Serves the API under a path prefix, as Apicurio does with {@code /apis/ccompat/v7}. */
        public Builder pathPrefix(String pathPrefix) {
            this.pathPrefix = pathPrefix == null ? "" : pathPrefix;
            return this;
        }

        /** Requires HTTP basic authentication. */
        public Builder basicAuth(String user, String password) {
            this.user = java.util.Objects.requireNonNull(user, "user");
            this.password = java.util.Objects.requireNonNull(password, "password");
            return this;
        }

        public InProcessSchemaRegistry start() {
            try {
                return new InProcessSchemaRegistry(port, pathPrefix, user, password);
            } catch (IOException e) {
                throw new UncheckedIOException("could not start the in-process schema registry on 127.0.0.1:" + port, e);
            }
        }
    }

    /** Base URL of the API, including the path prefix, e.g. {@code http://127.0.0.1:41234/apis/ccompat/v7}. */
    public URI url() {
        return URI.create("http://127.0.0.1:" + port + pathPrefix);
    }

    /** Number of HTTP requests served so far, including refused ones. */
    public long requestCount() {
        return requestCount.get();
    }

    /** Every request served so far as {@code "METHOD /path"} (path without the prefix), oldest first. */
    public List<String> requestLog() {
        synchronized (requestLog) {
            return List.copyOf(requestLog);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
        try {
            executor.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            requestCount.incrementAndGet();
            String rawPath = exchange.getRequestURI().getRawPath();
            String method = exchange.getRequestMethod();
            if (!rawPath.startsWith(pathPrefix + "/") && !rawPath.equals(pathPrefix)) {
                requestLog.add(method + " " + rawPath);
                send(exchange, 404, error(404, "HTTP 404 Not Found: " + rawPath + " is outside " + pathPrefix + "/"));
                return;
            }
            String path = rawPath.substring(pathPrefix.length());
            requestLog.add(method + " " + path);
            if (expectedAuthorization != null && !authorized(exchange)) {
                exchange.getResponseHeaders().add("WWW-Authenticate", "Basic realm=\"schema-registry\"");
                send(exchange, 401, error(401, "Unauthorized"));
                return;
            }
            Answer answer;
            try {
                answer = route(method, segments(path), exchange.getRequestBody());
            } catch (RuntimeException e) {
                answer = new Answer(500, error(500, "Internal error: " + e));
            }
            send(exchange, answer.status(), answer.body());
        }
    }

    private record Answer(int status, JsonNode body) {}

    private Answer route(String method, List<String> s, InputStream body) throws IOException {
        int n = s.size();
        if ("GET".equals(method) && n == 3 && s.get(0).equals("schemas") && s.get(1).equals("ids")) {
            return schemaById(s.get(2));
        }
        if (n >= 1 && n <= 2 && s.get(0).equals("config")) {
            String subject = n == 2 ? s.get(1) : null;
            if ("PUT".equals(method)) {
                return setCompatibility(subject, body);
            }
            if ("GET".equals(method)) {
                synchronized (lock) {
                    return new Answer(200, JSON.createObjectNode().put("compatibilityLevel",
                            subject == null ? globalCompatibility
                                    : compatibilityBySubject.getOrDefault(subject, globalCompatibility)));
                }
            }
        }
        if (n >= 1 && s.get(0).equals("subjects")) {
            if ("GET".equals(method) && n == 1) {
                return subjects();
            }
            if ("POST".equals(method) && n == 2) {
                return lookup(s.get(1), body);
            }
            if ("POST".equals(method) && n == 3 && s.get(2).equals("versions")) {
                return register(s.get(1), body);
            }
            if ("GET".equals(method) && n == 3 && s.get(2).equals("versions")) {
                return versions(s.get(1));
            }
            if ("GET".equals(method) && n == 4 && s.get(2).equals("versions")) {
                return version(s.get(1), s.get(3));
            }
        }
        return new Answer(404, error(404, "HTTP 404 Not Found: " + method + " /" + String.join("/", s)));
    }

    private Answer setCompatibility(String subject, InputStream body) throws IOException {
        JsonNode request;
        try {
            request = JSON.readTree(body.readAllBytes());
        } catch (IOException e) {
            return new Answer(400, error(400, "Request body is not JSON: " + e.getMessage()));
        }
        String level = request == null ? "" : request.path("compatibility").asText("");
        if (!"BACKWARD".equals(level) && !"NONE".equals(level)) {
            return new Answer(422, error(42203, "Invalid compatibility level \"" + level + "\": the in-process"
                    + " registry knows BACKWARD and NONE only"));
        }
        synchronized (lock) {
            if (subject == null) {
                globalCompatibility = level;
            } else {
                compatibilityBySubject.put(subject, level);
            }
        }
        return new Answer(200, JSON.createObjectNode().put("compatibility", level));
    }

    private Answer register(String subject, InputStream body) throws IOException {
        ParsedSchema parsed = parseBody(body);
        if (parsed.error() != null) {
            return parsed.error();
        }
        synchronized (lock) {
            List<Integer> versions = versionsBySubject.get(subject);
            Integer existing = idBySchemaText.get(parsed.text());
            if (existing != null && versions != null && versions.contains(existing)) {
                return new Answer(200, JSON.createObjectNode().put("id", existing));
            }
            boolean checked = !"NONE".equals(compatibilityBySubject.getOrDefault(subject, globalCompatibility));
            if (checked && versions != null && !versions.isEmpty()) {
                int latestId = versions.get(versions.size() - 1);
                Schema latest = new Schema.Parser().parse(schemaTextById.get(latestId));
                SchemaCompatibility.SchemaPairCompatibility compatibility =
                        SchemaCompatibility.checkReaderWriterCompatibility(parsed.schema(), latest);
                if (compatibility.getType() != SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE) {
                    String why = compatibility.getResult().getIncompatibilities().stream()
                            .map(i -> i.getType() + " at " + i.getLocation() + ": " + i.getMessage())
                            .collect(Collectors.joining("; "));
                    return new Answer(409, error(409, "Schema being registered is incompatible with an earlier schema"
                            + " for subject \"" + subject + "\" (BACKWARD: the new schema must read data written with"
                            + " version " + versions.size() + "): " + why));
                }
            }
            int id = existing != null ? existing : nextId++;
            schemaTextById.putIfAbsent(id, parsed.text());
            idBySchemaText.putIfAbsent(parsed.text(), id);
            versionsBySubject.computeIfAbsent(subject, k -> new ArrayList<>()).add(id);
            return new Answer(200, JSON.createObjectNode().put("id", id));
        }
    }

    private Answer lookup(String subject, InputStream body) throws IOException {
        ParsedSchema parsed = parseBody(body);
        if (parsed.error() != null) {
            return parsed.error();
        }
        synchronized (lock) {
            List<Integer> versions = versionsBySubject.get(subject);
            if (versions == null) {
                return new Answer(404, error(40401, "Subject '" + subject + "' not found."));
            }
            Integer id = idBySchemaText.get(parsed.text());
            if (id == null || !versions.contains(id)) {
                return new Answer(404, error(40403, "Schema not found under subject '" + subject + "'"));
            }
            return new Answer(200, versionNode(subject, versions.indexOf(id) + 1, id));
        }
    }

    private Answer schemaById(String idText) {
        Integer id = parseIntOrNull(idText);
        synchronized (lock) {
            String text = id == null ? null : schemaTextById.get(id);
            if (text == null) {
                return new Answer(404, error(40403, "Schema " + idText + " not found"));
            }
            return new Answer(200, JSON.createObjectNode().put("schema", text));
        }
    }

    private Answer subjects() {
        ArrayNode array = JSON.createArrayNode();
        synchronized (lock) {
            versionsBySubject.keySet().forEach(array::add);
        }
        return new Answer(200, array);
    }

    private Answer versions(String subject) {
        synchronized (lock) {
            List<Integer> versions = versionsBySubject.get(subject);
            if (versions == null) {
                return new Answer(404, error(40401, "Subject '" + subject + "' not found."));
            }
            ArrayNode array = JSON.createArrayNode();
            for (int v = 1; v <= versions.size(); v++) {
                array.add(v);
            }
            return new Answer(200, array);
        }
    }

    private Answer version(String subject, String versionText) {
        synchronized (lock) {
            List<Integer> versions = versionsBySubject.get(subject);
            if (versions == null) {
                return new Answer(404, error(40401, "Subject '" + subject + "' not found."));
            }
            Integer version = "latest".equals(versionText) ? Integer.valueOf(versions.size()) : parseIntOrNull(versionText);
            if (version == null || version < 1 || version > versions.size()) {
                return new Answer(404, error(40402, "Version " + versionText + " not found."));
            }
            return new Answer(200, versionNode(subject, version, versions.get(version - 1)));
        }
    }

    /** Caller holds {@link #lock}. */
    private ObjectNode versionNode(String subject, int version, int id) {
        ObjectNode node = JSON.createObjectNode();
        node.put("subject", subject);
        node.put("version", version);
        node.put("id", id);
        node.put("schema", schemaTextById.get(id));
        return node;
    }

    private record ParsedSchema(Schema schema, String text, Answer error) {}

    private static ParsedSchema parseBody(InputStream body) throws IOException {
        JsonNode request;
        try {
            request = JSON.readTree(body.readAllBytes());
        } catch (IOException e) {
            return new ParsedSchema(null, null, new Answer(400, error(400, "Request body is not JSON: " + e.getMessage())));
        }
        if (request == null || !request.path("schema").isTextual()) {
            return new ParsedSchema(null, null, new Answer(422, error(42201, "Request body has no \"schema\" string")));
        }
        String type = request.path("schemaType").asText("AVRO");
        if (!"AVRO".equalsIgnoreCase(type)) {
            return new ParsedSchema(null, null,
                    new Answer(422, error(42201, "Only AVRO schemas are supported by the in-process registry, not " + type)));
        }
        try {
            Schema schema = new Schema.Parser().parse(request.get("schema").asText());
            return new ParsedSchema(schema, schema.toString(), null);
        } catch (RuntimeException e) { // SchemaParseException, AvroTypeException, ... : all an invalid schema
            return new ParsedSchema(null, null, new Answer(422, error(42201, "Invalid schema: " + e.getMessage())));
        }
    }

    private boolean authorized(HttpExchange exchange) {
        String given = exchange.getRequestHeaders().getFirst("Authorization");
        return given != null
                && MessageDigest.isEqual(expectedAuthorization, given.getBytes(StandardCharsets.UTF_8));
    }

    private static ObjectNode error(int code, String message) {
        return JSON.createObjectNode().put("error_code", code).put("message", message);
    }

    private static void send(HttpExchange exchange, int status, JsonNode body) throws IOException {
        byte[] bytes = JSON.writeValueAsBytes(body);
        exchange.getResponseHeaders().set("Content-Type", CONTENT_TYPE);
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    private static List<String> segments(String path) {
        List<String> out = new ArrayList<>();
        for (String part : path.split("/")) {
            if (!part.isEmpty()) {
                out.add(URLDecoder.decode(part, StandardCharsets.UTF_8));
            }
        }
        return out;
    }

    private static Integer parseIntOrNull(String text) {
        try {
            return Integer.valueOf(text);
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static String normalizePrefix(String prefix) {
        String p = prefix == null ? "" : prefix.trim();
        while (p.endsWith("/")) {
            p = p.substring(0, p.length() - 1);
        }
        if (!p.isEmpty() && !p.startsWith("/")) {
            p = "/" + p;
        }
        return p;
    }
}
