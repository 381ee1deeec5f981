package io.medfuse.worker.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.sun.net.httpserver.HttpServer;

import io.medfuse.events.FailureReason;
import io.medfuse.events.ImageReference;

/** The fetcher against real files and a real HTTP server on 127.0.0.1 that misbehaves on purpose. */
class ImageFetcherTest {

    @TempDir
    Path root;
    private HttpServer server;
    private ExecutorService io;
    private ScheduledExecutorService timer;
    private final CountDownLatch stop = new CountDownLatch(1);
    private final Map<String, String> authorizationSeen = new ConcurrentHashMap<>();
    private final byte[] image = "pretend this is a PNG".getBytes(StandardCharsets.UTF_8);

    @BeforeEach
    void startServer() throws IOException {
        io = Executors.newFixedThreadPool(4);
        timer = Executors.newSingleThreadScheduledExecutor();
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setExecutor(Executors.newCachedThreadPool());
        server.createContext("/", exchange -> {
            try (exchange) {
                String path = exchange.getRequestURI().getPath();
                String auth = exchange.getRequestHeaders().getFirst("Authorization");
                authorizationSeen.put(path, auth == null ? "(none)" : auth);
                switch (path) {
                    case "/dicomweb/ok.png", "/public/ok.png" -> {
                        exchange.sendResponseHeaders(200, image.length);
                        exchange.getResponseBody().write(image);
                    }
                    case "/dicomweb/stall" -> {
                        exchange.sendResponseHeaders(200, 1000);
                        exchange.getResponseBody().write(new byte[3]);
                        exchange.getResponseBody().flush();
                        stop.await();
                    }
                    case "/dicomweb/big" -> {
                        exchange.sendResponseHeaders(200, 0);
                        while (stop.getCount() > 0) {
                            exchange.getResponseBody().write(new byte[4096]);
                        }
                    }
                    case "/dicomweb/to-public" -> redirect(exchange, "/public/ok.png");
                    case "/dicomweb/to-other-port" -> redirect(exchange, "http://127.0.0.1:1/ok.png");
                    case "/dicomweb/to-file" -> redirect(exchange, "file:///etc/passwd");
                    default -> exchange.sendResponseHeaders(404, -1);
                }
            } catch (IOException e) {
                // the client hung up
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        server.start();
    }

    private static void redirect(com.sun.net.httpserver.HttpExchange exchange, String location) throws IOException {
        exchange.getResponseHeaders().set("Location", location);
        exchange.sendResponseHeaders(302, -1);
    }

    @AfterEach
    void stopServer() {
        stop.countDown();
        server.stop(0);
        io.shutdownNow();
        timer.shutdownNow();
    }

    private String base() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    private ImageFetcher fetcher(String allow, String credentials, int timeoutMs) {
        ReferencePolicy policy = ReferencePolicy.parse(List.of(root.toString()),
                allow.isEmpty() ? List.of() : List.of(allow.split(",")), credentials, timeoutMs);
        return new ImageFetcher(policy, 1000, io, timer);
    }

    private static ImageReference ref(String uri) {
        return ImageReference.newBuilder().setUri(uri).build();
    }

    private static RequestRejectedException failure(ImageFetcher f, ImageReference r) {
        try {
            f.fetch(r).get(10, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RequestRejectedException rejected) {
                return rejected;
            }
            throw new AssertionError("unexpected failure", e.getCause());
        } catch (Exception e) {
            throw new AssertionError("the fetch did not finish", e);
        }
        throw new AssertionError("the fetch succeeded");
    }

    @Test
    void refusesEveryReferenceByDefault() {
        ImageFetcher none = new ImageFetcher(ReferencePolicy.NONE, 1000, io, timer);
        assertThatThrownBy(() -> none.check(ref("file:///etc/passwd"))).isInstanceOfSatisfying(
                RequestRejectedException.class, e -> assertThat(e.reason()).isEqualTo(FailureReason.REFERENCE_REFUSED));
        assertThatThrownBy(() -> none.check(ref(base() + "/dicomweb/ok.png"))).hasMessageContaining(
                "image.reference.http.allow is empty");
    }

    @Test
    void readsRegularFilesInsideTheRootsOnly() throws Exception {
        Files.write(root.resolve("a.png"), image);
        Path outside = Files.createTempFile("medfuse-outside", ".png");
        Files.write(outside, image);
        Files.createSymbolicLink(root.resolve("escape.png"), outside);
        Files.createDirectories(root.resolve("sub"));
        Path elsewhere = Files.createTempDirectory("medfuse-elsewhere");
        Files.createSymbolicLink(root.resolve("out"), elsewhere);
        ImageFetcher f = fetcher("", "", 2000);
        // through a link out of the roots, a missing file and an existing one look the same
        Files.write(elsewhere.resolve("there.png"), image);
        assertThat(failure(f, ref(root.resolve("out/there.png").toUri().toString())).reason())
                .isEqualTo(FailureReason.REFERENCE_REFUSED);
        assertThat(failure(f, ref(root.resolve("out/not-there.png").toUri().toString())).reason())
                .isEqualTo(FailureReason.REFERENCE_REFUSED);

        assertThat(f.fetch(ref(root.resolve("a.png").toUri().toString())).get(5, TimeUnit.SECONDS)).isEqualTo(image);
        assertThat(failure(f, ref("file:" + root + "/sub/../../" + outside.getFileName())).reason())
                .isEqualTo(FailureReason.REFERENCE_REFUSED);
        RequestRejectedException escape = failure(f, ref(root.resolve("escape.png").toUri().toString()));
        assertThat(escape.reason()).isEqualTo(FailureReason.REFERENCE_REFUSED);
        assertThat(escape.getMessage()).contains("symbolic link").doesNotContain(outside.toString());
        assertThat(failure(f, ref(root.resolve("sub").toUri().toString())).getMessage())
                .contains("not a regular file");
        assertThat(failure(f, ref(root.resolve("missing.png").toUri().toString())).reason())
                .isEqualTo(FailureReason.REFERENCE_UNREACHABLE);
        Files.delete(outside);
    }

    @Test
    void neverEchoesTheHashOfWhatItRead() throws Exception {
        Files.write(root.resolve("a.png"), image);
        ImageFetcher f = fetcher("", "", 2000);
        String actual = ImageFetcher.sha256(image);
        RequestRejectedException e = failure(f, ImageReference.newBuilder()
                .setUri(root.resolve("a.png").toUri().toString()).setSha256("0".repeat(64)).build());
        assertThat(e.reason()).isEqualTo(FailureReason.REFERENCE_MISMATCH);
        assertThat(e.getMessage()).doesNotContain(actual);
    }

    @Test
    void fetchesFromAnAllowedPrefixWithItsCredentialsOnly() throws Exception {
        ImageFetcher f = fetcher(base() + "/dicomweb/," + base() + "/public/",
                base() + "/dicomweb/=bearer:T0KEN", 2000);
        assertThat(f.fetch(ref(base() + "/dicomweb/ok.png")).get(5, TimeUnit.SECONDS)).isEqualTo(image);
        assertThat(authorizationSeen.get("/dicomweb/ok.png")).isEqualTo("Bearer T0KEN");
        // redirected to another allowed prefix: followed, and that prefix gets no credentials
        assertThat(f.fetch(ref(base() + "/dicomweb/to-public")).get(5, TimeUnit.SECONDS)).isEqualTo(image);
        assertThat(authorizationSeen.get("/public/ok.png")).isEqualTo("(none)");
        assertThat(f.check(ref(base() + "/dicomweb/ok.png")).getPath()).isEqualTo("/dicomweb/ok.png");
        assertThatThrownBy(() -> f.check(ref(base() + "/admin/ok.png"))).hasMessageContaining("not in");
        assertThatThrownBy(() -> f.check(ref(base() + "/dicomweb/../admin/x"))).hasMessageContaining("..");
        // a path parameter: Tomcat, Jetty and Spring read /dicomweb/..;/admin as /admin
        assertThatThrownBy(() -> f.check(ref(base() + "/dicomweb/..;/admin/x"))).hasMessageContaining("parameters");
        assertThatThrownBy(() -> f.check(ref(base() + "/dicomweb/%2e%2e/admin/x"))).hasMessageContaining("..");
    }

    @Test
    void checksEveryRedirectAgainstThePolicy() {
        ImageFetcher f = fetcher(base() + "/dicomweb/", "", 2000);
        RequestRejectedException toFile = failure(f, ref(base() + "/dicomweb/to-file"));
        assertThat(toFile.reason()).isEqualTo(FailureReason.REFERENCE_REFUSED);
        assertThat(toFile.getMessage()).contains("file:").doesNotContain("passwd");
        RequestRejectedException toOther = failure(f, ref(base() + "/dicomweb/to-other-port"));
        assertThat(toOther.reason()).isEqualTo(FailureReason.REFERENCE_REFUSED);
        assertThat(failure(f, ref(base() + "/dicomweb/to-public")).reason())
                .isEqualTo(FailureReason.REFERENCE_REFUSED);
    }

    @Test
    void endsAStalledBodyAtTheDeadlineAndAnEndlessOneAtTheSizeLimit() {
        ImageFetcher f = fetcher(base() + "/dicomweb/", "", 500);
        long start = System.nanoTime();
        RequestRejectedException stalled = failure(f, ref(base() + "/dicomweb/stall"));
        long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertThat(stalled.reason()).isEqualTo(FailureReason.REFERENCE_UNREACHABLE);
        assertThat(stalled.getMessage()).contains("did not finish within 500 ms");
        assertThat(tookMs).isLessThan(5_000);
        assertThat(failure(f, ref(base() + "/dicomweb/big")).reason()).isEqualTo(FailureReason.IMAGE_TOO_LARGE);
    }

    @Test
    void keepsQueryStringsAndUserInfoOutOfItsMessages() {
        ImageFetcher f = fetcher(base() + "/dicomweb/", "", 2000);
        RequestRejectedException missing = failure(f, ref(base() + "/dicomweb/none.png?token=SECRET"));
        assertThat(missing.getMessage()).contains("HTTP 404").doesNotContain("SECRET");
        assertThatThrownBy(() -> f.check(ref("http://bob:SECRET@127.0.0.1/dicomweb/ok.png")))
                .hasMessageNotContaining("SECRET").hasMessageContaining("user info");
    }

    @Test
    void refusesLoopbackLinkLocalAndMetadataAddressesUnlessNamedLiterally() throws Exception {
        ReferencePolicy.Server byName = ReferencePolicy.parse(List.of(), List.of("https://pacs.example.org/"), "",
                1000).servers().get(0);
        assertThat(ReferencePolicy.addressRefusal(byName, InetAddress.getByName("127.0.0.1"))).get().asString()
                .contains("loopback");
        assertThat(ReferencePolicy.addressRefusal(byName, InetAddress.getByName("169.254.169.254"))).get()
                .asString().contains("metadata");
        assertThat(ReferencePolicy.addressRefusal(byName, InetAddress.getByName("10.1.2.3"))).isEmpty();
        ReferencePolicy.Server literal = ReferencePolicy.parse(List.of(), List.of("http://127.0.0.1:8042/"), "",
                1000).servers().get(0);
        assertThat(ReferencePolicy.addressRefusal(literal, InetAddress.getByName("127.0.0.1"))).isEmpty();
    }

    @Test
    void matchesIpv6LiteralsAndSendsCredentialsOnlyWithTheirScheme() {
        ReferencePolicy p = ReferencePolicy.parse(List.of(), List.of("http://[::1]:8042/", "pacs.example.org"),
                "https://pacs.example.org/=bearer:T", 1000);
        assertThat(p.serverFor(java.net.URI.create("http://[::1]:8042/x.png"))).isPresent();
        assertThat(p.authorizationFor(java.net.URI.create("https://pacs.example.org/x.png"))).isPresent();
        assertThat(p.authorizationFor(java.net.URI.create("http://pacs.example.org/x.png"))).isEmpty();
        assertThatThrownBy(() -> ReferencePolicy.parse(List.of(), List.of("pacs.example.org"),
                "pacs.example.org=bearer:T", 1000)).hasMessageContaining("with its scheme");
    }

    @Test
    void reportsEveryBadPolicyEntryAtOnceWithoutTheSecrets() {
        assertThatThrownBy(() -> ReferencePolicy.parse(List.of("/no/such/folder"),
                List.of("ftp://x/", "https://user:pw@host/"), "https://other/=bearer:S3CRET;junk", 1000))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("/no/such/folder")
                .hasMessageContaining("only http and https")
                .hasMessageContaining("user info")
                .hasMessageContaining("not inside any image.reference.http.allow entry")
                .hasMessageContaining("entry 2")
                .hasMessageNotContaining("S3CRET")
                .hasMessageNotContaining("pw");
    }
}
