package io.medfuse.worker.pipeline;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

import io.medfuse.events.FailureReason;
import io.medfuse.events.ImageReference;

/**
 * Fetches referenced images ({@code file:} and {@code http(s):} URIs), never more than {@code maxBytes}, and checks
 * the sha256 when the reference carries one. Runs on the preprocessing pool, never on a stream thread. Thread-safe.
 */
public final class ImageFetcher {

    private final List<String> allowedSchemes;
    private final long maxBytes;
    private final Duration timeout;
    private final HttpClient http;

    public ImageFetcher(List<String> allowedSchemes, long maxBytes, Duration timeout) {
        this.allowedSchemes = List.copyOf(allowedSchemes);
        this.maxBytes = maxBytes;
        this.timeout = timeout;
        this.http = HttpClient.newBuilder().connectTimeout(timeout).followRedirects(HttpClient.Redirect.NORMAL)
                .build();
    }

    /** Checks a reference's form, cheaply, on the stream thread. */
    public URI check(ImageReference ref) {
        URI uri;
        try {
            uri = new URI(ref.getUri());
        } catch (Exception e) {
            throw new RequestRejectedException(FailureReason.INVALID_FIELD,
                    "image.reference.uri is not a valid URI: " + e.getMessage());
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!allowedSchemes.contains(scheme)) {
            throw new RequestRejectedException(FailureReason.INVALID_FIELD, "image.reference.uri scheme '" + scheme
                    + "' is not allowed (image.reference.schemes = " + allowedSchemes + ")");
        }
        if (ref.getSha256() != null && !ref.getSha256().matches("[0-9a-fA-F]{64}")) {
            throw new RequestRejectedException(FailureReason.INVALID_FIELD,
                    "image.reference.sha256 must be 64 hex digits");
        }
        return uri;
    }

    /**
     * Fetches the image bytes.
     *
     * @throws RequestRejectedException REFERENCE_UNREACHABLE, IMAGE_TOO_LARGE or REFERENCE_MISMATCH
     */
    public byte[] fetch(ImageReference ref) {
        URI uri = check(ref);
        byte[] bytes = switch (uri.getScheme().toLowerCase(Locale.ROOT)) {
            case "file" -> readFile(uri);
            case "http", "https" -> readHttp(uri);
            default -> throw new RequestRejectedException(FailureReason.INVALID_FIELD,
                    "unsupported image reference scheme " + uri.getScheme());
        };
        if (ref.getSha256() != null) {
            String actual = sha256(bytes);
            if (!actual.equalsIgnoreCase(ref.getSha256())) {
                throw new RequestRejectedException(FailureReason.REFERENCE_MISMATCH, "the image at the reference has "
                        + "sha256 " + actual + ", the request says " + ref.getSha256().toLowerCase(Locale.ROOT));
            }
        }
        return bytes;
    }

    private byte[] readFile(URI uri) {
        Path path;
        try {
            path = Path.of(uri);
        } catch (RuntimeException e) {
            throw new RequestRejectedException(FailureReason.INVALID_FIELD, "image.reference.uri is not a usable "
                    + "file URI: " + e.getMessage());
        }
        try (InputStream in = Files.newInputStream(path)) {
            return readLimited(in, uri);
        } catch (NoSuchFileException e) {
            throw new RequestRejectedException(FailureReason.REFERENCE_UNREACHABLE, "no file at " + uri);
        } catch (IOException e) {
            throw new RequestRejectedException(FailureReason.REFERENCE_UNREACHABLE, "cannot read " + uri + ": " + e);
        }
    }

    private byte[] readHttp(URI uri) {
        HttpRequest request = HttpRequest.newBuilder(uri).timeout(timeout).GET().build();
        try {
            HttpResponse<InputStream> response = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
            try (InputStream in = response.body()) {
                if (response.statusCode() != 200) {
                    throw new RequestRejectedException(FailureReason.REFERENCE_UNREACHABLE,
                            "GET " + uri + " answered HTTP " + response.statusCode());
                }
                return readLimited(in, uri);
            }
        } catch (IOException e) {
            throw new RequestRejectedException(FailureReason.REFERENCE_UNREACHABLE, "GET " + uri + " failed: " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RequestRejectedException(FailureReason.REFERENCE_UNREACHABLE, "interrupted fetching " + uri);
        }
    }

    private byte[] readLimited(InputStream in, URI uri) throws IOException {
        byte[] bytes = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, maxBytes + 1));
        if (bytes.length > maxBytes) {
            throw new RequestRejectedException(FailureReason.IMAGE_TOO_LARGE, "the image at " + uri
                    + " is larger than image.max.bytes = " + maxBytes);
        }
        return bytes;
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
