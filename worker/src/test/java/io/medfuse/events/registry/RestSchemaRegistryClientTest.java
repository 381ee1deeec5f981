package io.medfuse.events.registry;

import io.medfuse.testkit.InProcessSchemaRegistry;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.net.URI;
import java.time.Duration;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.junit.jupiter.api.Test;

class RestSchemaRegistryClientTest {

    private static final Schema PATIENT = SchemaBuilder.record("Patient").namespace("test")
            .fields().optionalDouble("ageYears").endRecord();
    private static final Schema VISIT = SchemaBuilder.record("Visit").namespace("test")
            .fields().requiredString("id").endRecord();

    /**
     * A registry that closed a kept-alive connection while it was idle: the next request on it fails before any
     * answer. Registering is idempotent, so the client asks once more on a new connection (the JDK client retries
     * only GETs by itself). Here the first connection is closed unanswered and the second answers.
     */
    @Test
    void registersOnANewConnectionWhenTheFirstIsClosedUnanswered() throws Exception {
        java.util.concurrent.atomic.AtomicInteger connections = new java.util.concurrent.atomic.AtomicInteger();
        try (java.net.ServerSocket server = new java.net.ServerSocket(0, 50,
                java.net.InetAddress.getLoopbackAddress())) {
            Thread t = new Thread(() -> {
                while (!server.isClosed()) {
                    try (java.net.Socket s = server.accept()) {
                        int n = connections.incrementAndGet();
                        java.io.InputStream in = s.getInputStream();
                        byte[] buf = new byte[8192];
                        int read = in.read(buf); // the request (small enough for one read here)
                        if (n == 1 || read <= 0) {
                            continue; // closed without a byte of answer
                        }
                        byte[] body = "{\"id\":7}".getBytes(java.nio.charset.StandardCharsets.UTF_8);
                        s.getOutputStream().write(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                + "Content-Length: " + body.length + "\r\nConnection: close\r\n\r\n")
                                .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                        s.getOutputStream().write(body);
                    } catch (java.io.IOException e) {
                        return; // the server closed
                    }
                }
            });
            t.setDaemon(true);
            t.start();
            var client = new RestSchemaRegistryClient(RegistrySettings.of(URI.create("http://127.0.0.1:"
                    + server.getLocalPort())));
            assertThat(client.register("patients-value", PATIENT)).isEqualTo(7);
            assertThat(connections.get()).as("asked again on a second connection").isEqualTo(2);
        }
    }

    @Test
    void cachesRegisteredIdsAndFetchedSchemas() {
        try (var registry = InProcessSchemaRegistry.start(0)) {
            var client = new RestSchemaRegistryClient(RegistrySettings.of(registry.url()));

            int id = client.register("patients-value", PATIENT);
            int again = client.register("patients-value", PATIENT);
            assertThat(again).isEqualTo(id);
            assertThat(registry.requestCount()).isEqualTo(1);

            var reader = new RestSchemaRegistryClient(RegistrySettings.of(registry.url()));
            assertThat(reader.schemaById(id)).isEqualTo(PATIENT);
            assertThat(reader.schemaById(id)).isEqualTo(PATIENT);
            assertThat(registry.requestLog()).containsExactly(
                    "POST /subjects/patients-value/versions", "GET /schemas/ids/" + id);
        }
    }

    @Test
    void looksUpWithoutRegisteringAndCachesTheAnswer() {
        try (var registry = InProcessSchemaRegistry.start(0)) {
            var client = new RestSchemaRegistryClient(RegistrySettings.of(registry.url()));
            int id = client.register("patients-value", PATIENT);
            var producer = new RestSchemaRegistryClient(RegistrySettings.of(registry.url()));

            assertThat(producer.lookup("patients-value", PATIENT)).isEqualTo(id);
            assertThat(producer.lookup("patients-value", PATIENT)).isEqualTo(id);
            assertThat(registry.requestLog()).containsExactly(
                    "POST /subjects/patients-value/versions", "POST /subjects/patients-value");

            var notFound = catchThrowableOfType(SchemaRegistryException.class,
                    () -> producer.lookup("visits-value", VISIT));
            assertThat(notFound.status()).isEqualTo(404);
            assertThat(notFound.errorCode()).isEqualTo(40401);
        }
    }

    @Test
    void unknownIdIsUnknownSchemaException() {
        try (var registry = InProcessSchemaRegistry.start(0)) {
            var client = new RestSchemaRegistryClient(RegistrySettings.of(registry.url()));

            var thrown = catchThrowableOfType(UnknownSchemaException.class, () -> client.schemaById(77));

            assertThat(thrown.schemaId()).isEqualTo(77);
            assertThat(thrown.status()).isEqualTo(404);
            assertThat(thrown.errorCode()).isEqualTo(40403);
            assertThat(thrown).hasMessageContaining(registry.url() + "/schemas/ids/77");
        }
    }

    @Test
    void incompatibleSchemaIsRefusedWithStatusErrorCodeAndMessage() {
        try (var registry = InProcessSchemaRegistry.start(0)) {
            var client = new RestSchemaRegistryClient(RegistrySettings.of(registry.url()));
            client.register("patients-value", PATIENT);
            Schema withRequired = SchemaBuilder.record("Patient").namespace("test")
                    .fields().optionalDouble("ageYears").requiredString("mrn").endRecord();

            var thrown = catchThrowableOfType(SchemaRegistryException.class,
                    () -> client.register("patients-value", withRequired));

            assertThat(thrown.status()).isEqualTo(409);
            assertThat(thrown.errorCode()).isEqualTo(409);
            assertThat(thrown).hasMessageContaining("HTTP 409").hasMessageContaining("mrn")
                    .hasMessageContaining(registry.url() + "/subjects/patients-value/versions");
        }
    }

    @Test
    void sendsBasicAuthWhenConfigured() {
        try (var registry = InProcessSchemaRegistry.start(0, "medfuse", "s3cret-pw")) {
            var client = new RestSchemaRegistryClient(
                    new RegistrySettings(registry.url(), "medfuse", "s3cret-pw", Duration.ofSeconds(5)));

            int id = client.register("patients-value", PATIENT);

            assertThat(client.schemaById(id)).isEqualTo(PATIENT);
        }
    }

    @Test
    void wrongPasswordIs401NamingTheUrlButNotThePassword() {
        try (var registry = InProcessSchemaRegistry.start(0, "medfuse", "s3cret-pw")) {
            var settings = new RegistrySettings(registry.url(), "medfuse", "not-the-pw", Duration.ofSeconds(5));
            var client = new RestSchemaRegistryClient(settings);

            var thrown = catchThrowableOfType(SchemaRegistryException.class,
                    () -> client.register("patients-value", PATIENT));

            assertThat(thrown.status()).isEqualTo(401);
            assertThat(thrown).hasMessageContaining("HTTP 401")
                    .hasMessageContaining(registry.url().toString())
                    .hasMessageNotContaining("not-the-pw").hasMessageNotContaining("s3cret-pw");
            assertThat(settings.toString()).doesNotContain("not-the-pw");
            var anonymous = new RestSchemaRegistryClient(RegistrySettings.of(registry.url()));
            assertThat(catchThrowableOfType(SchemaRegistryException.class, () -> anonymous.schemaById(1)).status())
                    .isEqualTo(401);
        }
    }

    @Test
    void appendsApiPathsToAUrlWithAPathPrefix() {
        try (var registry = InProcessSchemaRegistry.builder().pathPrefix("/apis/ccompat/v7").start()) {
            assertThat(registry.url().getPath()).isEqualTo("/apis/ccompat/v7");
            var client = new RestSchemaRegistryClient(RegistrySettings.of(registry.url()));
            var trailingSlash = new RestSchemaRegistryClient(RegistrySettings.of(URI.create(registry.url() + "/")));

            int id = client.register("patients-value", PATIENT);

            assertThat(trailingSlash.schemaById(id)).isEqualTo(PATIENT);
            var withoutPrefix = new RestSchemaRegistryClient(RegistrySettings.of(
                    URI.create("http://127.0.0.1:" + registry.url().getPort())));
            assertThat(catchThrowableOfType(SchemaRegistryException.class, () -> withoutPrefix.schemaById(id))
                    .status()).isEqualTo(404);
        }
    }

    @Test
    void unreachableRegistryNamesTheUrl() {
        URI url;
        try (var registry = InProcessSchemaRegistry.start(0)) {
            url = registry.url();
        }
        var client = new RestSchemaRegistryClient(new RegistrySettings(url, "u", "pw-xyz", Duration.ofSeconds(2)));

        var thrown = catchThrowableOfType(SchemaRegistryException.class, () -> client.register("s", PATIENT));

        assertThat(thrown.isUnreachable()).isTrue();
        assertThat(thrown.status()).isEqualTo(SchemaRegistryException.NO_RESPONSE);
        assertThat(thrown).hasMessageStartingWith("schema registry at " + url + "/subjects/s/versions unreachable: ")
                .hasMessageNotContaining("pw-xyz");
    }

    @Test
    void userInfoInTheUrlNeverReachesMessages() {
        var settings = new RegistrySettings(URI.create("http://bob:hunter2@127.0.0.1:1/"), null, null,
                Duration.ofSeconds(1));

        assertThat(settings.toString()).doesNotContain("hunter2");
        assertThatThrownBy(() -> new RestSchemaRegistryClient(settings).schemaById(1))
                .isInstanceOf(SchemaRegistryException.class).hasMessageNotContaining("hunter2");
    }

    @Test
    void settingsRejectNonHttpUrlsAndUsersWithoutPasswords() {
        assertThatThrownBy(() -> RegistrySettings.of(URI.create("ftp://host/")))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new RegistrySettings(URI.create("http://h:8081"), "u", null, Duration.ofSeconds(1)))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
