package io.medfuse.worker.metrics;

import java.io.IOException;
import java.io.OutputStream;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import io.medfuse.worker.WorkerStartException;

/**
 * A small HTTP server (the JDK's) for Prometheus and Kubernetes: {@code GET /metrics} (Prometheus text format),
 * {@code GET /health/live} and {@code GET /health/ready} (200 or 503 with {@code {"status","reason"}} as JSON).
 * Listens on the configured address ({@code metrics.bind.address}); one daemon thread answers, so a slow scrape
 * cannot take threads from the worker.
 */
public final class MetricsServer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(MetricsServer.class);

    /** Prometheus text exposition format 0.0.4. */
    public static final String PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private final HttpServer server;
    private final ExecutorService executor;

    private MetricsServer(HttpServer server, ExecutorService executor) {
        this.server = server;
        this.executor = executor;
    }

    /** Starts listening on every interface. */
    public static MetricsServer start(int port, Supplier<String> scrape, HealthCheck health) {
        return start("0.0.0.0", port, scrape, health);
    }

    /**
     * Starts listening.
     *
     * @param bindAddress address to listen on (0.0.0.0: every interface)
     * @param port TCP port, 0 for any free one
     * @param scrape the metrics text, produced per request
     * @throws WorkerStartException when the address or port cannot be bound
     */
    public static MetricsServer start(String bindAddress, int port, Supplier<String> scrape, HealthCheck health) {
        HttpServer server;
        InetSocketAddress address = new InetSocketAddress(bindAddress, port);
        if (address.isUnresolved()) {
            throw new WorkerStartException("metrics.bind.address " + bindAddress + " is not an address of this host");
        }
        try {
            server = HttpServer.create(address, 16);
        } catch (BindException e) {
            throw new WorkerStartException("metrics.port " + port + " is in use (" + e.getMessage()
                    + "); choose another port, 0 for any free one, or -1 to turn the endpoint off", e);
        } catch (IOException e) {
            throw new WorkerStartException("cannot open the metrics HTTP server on port " + port + ": " + e, e);
        }
        ExecutorService executor = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "medfuse-metrics-http");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        server.createContext("/metrics", exchange -> {
            if (allowed(exchange)) {
                respond(exchange, 200, PROMETHEUS_CONTENT_TYPE, scrape.get());
            }
        });
        server.createContext("/health/live", exchange -> {
            if (allowed(exchange)) {
                respondHealth(exchange, health.live());
            }
        });
        server.createContext("/health/ready", exchange -> {
            if (allowed(exchange)) {
                respondHealth(exchange, health.ready());
            }
        });
        server.createContext("/", exchange -> {
            if (allowed(exchange)) {
                respond(exchange, 404, "text/plain; charset=utf-8",
                        "not found; try /metrics, /health/live or /health/ready\n");
            }
        });
        server.start();
        MetricsServer started = new MetricsServer(server, executor);
        LOG.info("metrics and health on http://{}:{}/metrics, /health/live, /health/ready", bindAddress,
                started.port());
        return started;
    }

    /** The port listened on (the real one when started with 0). */
    public int port() {
        return server.getAddress().getPort();
    }

    private static boolean allowed(HttpExchange exchange) throws IOException {
        String method = exchange.getRequestMethod();
        if (method.equals("GET") || method.equals("HEAD")) {
            return true;
        }
        exchange.getResponseHeaders().set("Allow", "GET, HEAD");
        respond(exchange, 405, "text/plain; charset=utf-8", "method " + method + " not allowed\n");
        return false;
    }

    private static void respondHealth(HttpExchange exchange, Health health) throws IOException {
        respond(exchange, health.up() ? 200 : 503, "application/json", health.toJson() + "\n");
    }

    private static void respond(HttpExchange exchange, int status, String contentType, String body)
            throws IOException {
        try (exchange) {
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", contentType);
            exchange.getResponseHeaders().set("Cache-Control", "no-store");
            boolean head = exchange.getRequestMethod().equals("HEAD");
            exchange.sendResponseHeaders(status, head ? -1 : bytes.length);
            if (!head) {
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(bytes);
                }
            }
        } catch (RuntimeException e) {
            LOG.warn("{} {} failed: {}", exchange.getRequestMethod(), exchange.getRequestURI(), e.toString(), e);
            throw e;
        }
    }

    /** Stops listening at once (scrapes in progress are cut). */
    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
