package io.medfuse.worker.pipeline;

import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Flow;
import java.util.concurrent.FutureTask;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

import io.medfuse.events.FailureReason;
import io.medfuse.events.ImageReference;

/**
 * Fetches referenced images where the {@link ReferencePolicy} allows, never more than {@code maxBytes}, within one
 * deadline for the whole fetch, and checks the sha256 when the reference carries one.
 *
 * <p>What a producer names is hostile input: {@code file:} references are read only inside the allowed folders
 * after {@code ..} and symbolic links are resolved, and only regular files; {@code http(s):} references only from
 * allowed servers, each redirect checked again (never to {@code file:}), and never to loopback, link-local or
 * metadata addresses unless an entry names them literally. Dead-letter details say which rule refused a reference
 * or that it could not be read; they never carry fetched bytes or their hash, nor a reference's query string or
 * user info, and "missing" and "not allowed" are told apart only inside allowed places.
 *
 * <p>Nothing here blocks a caller: file reads run on the I/O pool (interruptible, so a deadline frees the thread),
 * HTTP runs on the JDK client's asynchronous machinery with a body subscriber that stops reading at the limit and
 * is cancelled at the deadline. Thread-safe; owns its HTTP client, not the pools it is given.
 */
public final class ImageFetcher {

    /** Redirects followed per fetch, each one checked against the policy. */
    static final int MAX_REDIRECTS = 5;

    private final ReferencePolicy policy;
    private final long maxBytes;
    private final ExecutorService io;
    private final ScheduledExecutorService timer;
    private final HttpClient http;

    /**
     * @param io runs file reads, name lookups and HTTP callbacks
     * @param timer fires fetch deadlines
     */
    public ImageFetcher(ReferencePolicy policy, long maxBytes, ExecutorService io, ScheduledExecutorService timer) {
        this.policy = policy;
        this.maxBytes = maxBytes;
        this.io = io;
        this.timer = timer;
        // redirects are followed here, one hop at a time, so that each target is checked against the policy
        this.http = HttpClient.newBuilder().connectTimeout(policy.fetchTimeout())
                .followRedirects(HttpClient.Redirect.NEVER).version(HttpClient.Version.HTTP_1_1).executor(io)
                .build();
    }

    public ReferencePolicy policy() {
        return policy;
    }

    /**
     * Checks a reference cheaply, on the stream thread: its form, its scheme and (lexically) its place. Touches
     * neither the file system nor the network.
     *
     * @throws RequestRejectedException INVALID_FIELD or REFERENCE_REFUSED
     */
    public URI check(ImageReference ref) {
        URI uri = parse(ref.getUri());
        if (ref.getSha256() != null && !ref.getSha256().matches("[0-9a-fA-F]{64}")) {
            throw new RequestRejectedException(FailureReason.INVALID_FIELD,
                    "image.reference.sha256 must be 64 hex digits");
        }
        checkPlace(uri);
        return uri;
    }

    private static URI parse(String text) {
        if (text == null || text.isEmpty() || text.length() > 4096) {
            throw new RequestRejectedException(FailureReason.INVALID_FIELD,
                    "image.reference.uri must be 1 to 4096 characters");
        }
        URI uri;
        try {
            uri = new URI(text);
        } catch (URISyntaxException e) {
            throw new RequestRejectedException(FailureReason.INVALID_FIELD,
                    "image.reference.uri is not a valid URI (" + e.getReason() + " at index " + e.getIndex() + ")");
        }
        if (uri.getRawUserInfo() != null) {
            throw new RequestRejectedException(FailureReason.INVALID_FIELD, "image.reference.uri must not carry "
                    + "user info: credentials for a server are configured on the worker "
                    + "(image.reference.http.credentials)");
        }
        return uri;
    }

    private void checkPlace(URI uri) {
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        switch (scheme) {
            case "file" -> {
                if (policy.fileRoots().isEmpty()) {
                    throw refused(uri, "file: references are refused: no folder is allowed "
                            + "(image.reference.file.roots is empty)");
                }
                Path normalised = lexicalPath(uri);
                if (policy.rootLexicallyContaining(normalised).isEmpty()) {
                    throw refused(uri, "the file is not inside an allowed folder (image.reference.file.roots)");
                }
            }
            case "http", "https" -> {
                if (policy.servers().isEmpty()) {
                    throw refused(uri, "http(s) references are refused: no server is allowed "
                            + "(image.reference.http.allow is empty)");
                }
                if (uri.getHost() == null) {
                    throw new RequestRejectedException(FailureReason.INVALID_FIELD,
                            "image.reference.uri has no host");
                }
                if (ReferencePolicy.hasDotSegments(uri.getRawPath() == null ? "" : uri.getRawPath())) {
                    throw refused(uri, "the path contains . or .. segments, path parameters or encoded slashes");
                }
                if (policy.serverFor(uri).isEmpty()) {
                    throw refused(uri, "the server or path is not in image.reference.http.allow");
                }
            }
            default -> throw refused(uri, "only file: and http(s): references can be allowed");
        }
    }

    private static Path lexicalPath(URI uri) {
        try {
            return Path.of(uri).toAbsolutePath().normalize();
        } catch (IllegalArgumentException | java.nio.file.FileSystemNotFoundException e) {
            throw new RequestRejectedException(FailureReason.INVALID_FIELD, "image.reference.uri is not a usable "
                    + "file URI (file:/absolute/path)");
        }
    }

    /**
     * Fetches the image bytes. The future fails with a {@link RequestRejectedException} (REFERENCE_REFUSED,
     * REFERENCE_UNREACHABLE, IMAGE_TOO_LARGE or REFERENCE_MISMATCH); cancelling it stops the fetch and frees
     * what it holds. It completes within the policy's fetch deadline.
     */
    public CompletableFuture<byte[]> fetch(ImageReference ref) {
        URI uri;
        try {
            uri = check(ref);
        } catch (RequestRejectedException e) {
            return CompletableFuture.failedFuture(e);
        }
        Fetch fetch = new Fetch(uri);
        String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
        if (scheme.equals("file")) {
            fetch.readFile();
        } else {
            fetch.get(uri, 0);
        }
        String expected = ref.getSha256();
        if (expected == null) {
            return fetch.result;
        }
        CompletableFuture<byte[]> checked = fetch.result.thenApply(bytes -> {
            if (!sha256(bytes).equalsIgnoreCase(expected)) {
                // never the actual hash: it would tell a producer the hash of any file the worker can read
                throw new RequestRejectedException(FailureReason.REFERENCE_MISMATCH, "the image at "
                        + describe(uri) + " does not match image.reference.sha256");
            }
            return bytes;
        });
        // a caller cancelling (or timing out) the checked future stops the fetch itself
        checked.whenComplete((b, e) -> {
            if (e != null) {
                fetch.result.cancel(true);
            }
        });
        return checked;
    }

    /** One fetch: its result, its deadline and whatever must be stopped when either comes first. */
    private final class Fetch {
        final URI original;
        final CompletableFuture<byte[]> result = new CompletableFuture<>();
        private final ScheduledFuture<?> deadline;
        private volatile Runnable abort = () -> { };

        Fetch(URI original) {
            this.original = original;
            long ms = policy.fetchTimeout().toMillis();
            this.deadline = timer.schedule(() -> fail(FailureReason.REFERENCE_UNREACHABLE, "fetching "
                    + describe(original) + " did not finish within " + ms + " ms (image.reference.timeout.ms)"),
                    ms, TimeUnit.MILLISECONDS);
            // whoever completes the result first (bytes, failure, deadline, a cancelling caller) stops the rest
            result.whenComplete((b, e) -> {
                deadline.cancel(false);
                if (e != null) {
                    abort.run();
                }
            });
        }

        void fail(FailureReason reason, String detail) {
            result.completeExceptionally(new RequestRejectedException(reason, detail));
        }

        void readFile() {
            FutureTask<Void> task = new FutureTask<>(() -> {
                try {
                    result.complete(readFileNow(original));
                } catch (RequestRejectedException e) {
                    result.completeExceptionally(e);
                } catch (RuntimeException e) {
                    result.completeExceptionally(new RequestRejectedException(FailureReason.REFERENCE_UNREACHABLE,
                            "cannot read " + describe(original)));
                }
                return null;
            });
            abort = () -> task.cancel(true); // the interrupt closes the FileChannel under a blocked read
            submit(task);
        }

        void get(URI uri, int hop) {
            FutureTask<Void> task = new FutureTask<>(() -> {
                send(uri, hop);
                return null;
            });
            abort = () -> task.cancel(true);
            submit(task);
        }

        private void submit(Runnable task) {
            try {
                io.execute(task);
            } catch (RejectedExecutionException e) {
                fail(FailureReason.REFERENCE_UNREACHABLE, "the worker is stopping");
            }
        }

        /** On the I/O pool: resolve and check the address, then send without blocking. */
        private void send(URI uri, int hop) {
            if (result.isDone()) {
                return;
            }
            Optional<ReferencePolicy.Server> server = policy.serverFor(uri);
            if (server.isEmpty()) {
                fail(FailureReason.REFERENCE_REFUSED, "the reference " + describe(original) + " redirected to "
                        + describe(uri) + ", which is not in image.reference.http.allow");
                return;
            }
            try {
                for (InetAddress a : InetAddress.getAllByName(uri.getHost())) {
                    Optional<String> why = ReferencePolicy.addressRefusal(server.get(), a);
                    if (why.isPresent()) {
                        fail(FailureReason.REFERENCE_REFUSED, describe(uri) + " is refused: " + why.get());
                        return;
                    }
                }
            } catch (UnknownHostException e) {
                fail(FailureReason.REFERENCE_UNREACHABLE, "the host of " + describe(uri) + " is unknown");
                return;
            }
            HttpRequest.Builder request = HttpRequest.newBuilder(uri).GET().timeout(policy.fetchTimeout())
                    .header("Accept", "image/png, image/jpeg, application/dicom, "
                            + "multipart/related; type=\"application/dicom\"; q=0.9, application/octet-stream; q=0.5");
            policy.authorizationFor(uri).ifPresent(h -> request.header("Authorization", h));
            LimitedBody[] body = new LimitedBody[1];
            CompletableFuture<HttpResponse<byte[]>> response = http.sendAsync(request.build(), info -> {
                body[0] = new LimitedBody(info.statusCode() == 200 ? maxBytes : -1,
                        info.headers().firstValueAsLong("Content-Length").orElse(-1));
                return body[0];
            });
            abort = () -> {
                response.cancel(true);
                if (body[0] != null) {
                    body[0].cancel();
                }
            };
            if (result.isDone()) {
                abort.run();
                return;
            }
            response.whenComplete((r, e) -> {
                if (e != null) {
                    failFrom(uri, e);
                } else {
                    answered(uri, hop, r);
                }
            });
        }

        private void answered(URI uri, int hop, HttpResponse<byte[]> r) {
            int status = r.statusCode();
            if (status == 200) {
                String type = r.headers().firstValue("Content-Type").orElse(null);
                if (MultipartRelated.is(type)) {
                    // a DICOMweb (WADO-RS) instance: multipart/related; type="application/dicom"
                    Optional<byte[]> part = MultipartRelated.firstPart(r.body(), type);
                    if (part.isEmpty()) {
                        fail(FailureReason.REFERENCE_UNREACHABLE, "GET " + describe(uri) + " answered a "
                                + "multipart/related body that cannot be read (no boundary, or no complete part)");
                        return;
                    }
                    result.complete(part.get());
                    return;
                }
                result.complete(r.body());
                return;
            }
            if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
                Optional<String> location = r.headers().firstValue("Location");
                if (location.isEmpty()) {
                    fail(FailureReason.REFERENCE_UNREACHABLE, "GET " + describe(uri) + " answered HTTP " + status
                            + " without a Location");
                    return;
                }
                if (hop + 1 > MAX_REDIRECTS) {
                    fail(FailureReason.REFERENCE_UNREACHABLE, "GET " + describe(original) + " redirected more than "
                            + MAX_REDIRECTS + " times");
                    return;
                }
                URI next;
                try {
                    next = uri.resolve(new URI(location.get()));
                } catch (URISyntaxException | IllegalArgumentException e) {
                    fail(FailureReason.REFERENCE_UNREACHABLE, "GET " + describe(uri) + " redirected to an "
                            + "invalid Location");
                    return;
                }
                String scheme = next.getScheme() == null ? "" : next.getScheme().toLowerCase(Locale.ROOT);
                if (!scheme.equals("http") && !scheme.equals("https")) {
                    fail(FailureReason.REFERENCE_REFUSED, "the reference " + describe(original)
                            + " redirected to a " + (scheme.isEmpty() ? "non-URL" : scheme + ":")
                            + " location; redirects may only go to allowed http(s) servers");
                    return;
                }
                if (next.getRawUserInfo() != null
                        || ReferencePolicy.hasDotSegments(next.getRawPath() == null ? "" : next.getRawPath())) {
                    fail(FailureReason.REFERENCE_REFUSED, "the reference " + describe(original)
                            + " redirected to a location with user info or dot segments");
                    return;
                }
                get(next, hop + 1);
                return;
            }
            fail(FailureReason.REFERENCE_UNREACHABLE, "GET " + describe(uri) + " answered HTTP " + status);
        }

        private void failFrom(URI uri, Throwable e) {
            Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
            for (Throwable t = cause; t != null; t = t.getCause()) {
                if (t instanceof RequestRejectedException rejected) {
                    result.completeExceptionally(rejected);
                    return;
                }
            }
            if (cause instanceof CancellationException) {
                fail(FailureReason.REFERENCE_UNREACHABLE, "fetching " + describe(uri) + " was cancelled");
            } else if (cause instanceof HttpTimeoutException) {
                fail(FailureReason.REFERENCE_UNREACHABLE, "GET " + describe(uri) + " did not answer within "
                        + policy.fetchTimeout().toMillis() + " ms");
            } else {
                // the exception's class only: its message may repeat the URL with its query string
                fail(FailureReason.REFERENCE_UNREACHABLE, "GET " + describe(uri) + " failed ("
                        + cause.getClass().getSimpleName() + ")");
            }
        }
    }

    /** On the I/O pool: the resolved, checked file, read through an interruptible channel. */
    private byte[] readFileNow(URI uri) {
        Path normalised = lexicalPath(uri);
        Path real;
        try {
            real = normalised.toRealPath();
        } catch (NoSuchFileException e) {
            // "missing" only where the folder that would hold it is allowed: through a symbolic link that leads out
            // of the roots, a missing file and an existing one must look the same
            if (!policy.allowsRealPath(firstExistingAncestor(normalised))) {
                throw refused(uri, "the file resolves (through a symbolic link) outside the allowed folders");
            }
            throw new RequestRejectedException(FailureReason.REFERENCE_UNREACHABLE, "no file at " + describe(uri));
        } catch (IOException | SecurityException e) {
            throw new RequestRejectedException(FailureReason.REFERENCE_UNREACHABLE, "cannot read " + describe(uri));
        }
        if (ReferencePolicy.inNeverReadFolder(real) || !policy.allowsRealPath(real)) {
            throw refused(uri, "the file resolves (through a symbolic link) outside the allowed folders");
        }
        BasicFileAttributes attributes;
        try {
            attributes = Files.readAttributes(real, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            throw new RequestRejectedException(FailureReason.REFERENCE_UNREACHABLE, "cannot read " + describe(uri));
        }
        if (!attributes.isRegularFile()) {
            throw refused(uri, "it is not a regular file (folders, pipes and devices are never read)");
        }
        if (attributes.size() > maxBytes) {
            throw tooLarge(uri);
        }
        try (FileChannel channel = FileChannel.open(real, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            ByteBuffer buffer = ByteBuffer.allocate((int) Math.min(maxBytes + 1, attributes.size() + 1));
            while (buffer.hasRemaining() && channel.read(buffer) >= 0) {
                if (!buffer.hasRemaining() && buffer.capacity() <= maxBytes) {
                    // the file grew since its size was read: grow the buffer, never past the limit
                    ByteBuffer bigger = ByteBuffer.allocate((int) Math.min(maxBytes + 1, buffer.capacity() * 2L));
                    buffer.flip();
                    bigger.put(buffer);
                    buffer = bigger;
                }
            }
            if (buffer.position() > maxBytes) {
                throw tooLarge(uri);
            }
            byte[] bytes = new byte[buffer.position()];
            buffer.flip().get(bytes);
            return bytes;
        } catch (ClosedByInterruptException e) {
            throw new RequestRejectedException(FailureReason.REFERENCE_UNREACHABLE, "reading " + describe(uri)
                    + " was stopped at its deadline");
        } catch (IOException e) {
            throw new RequestRejectedException(FailureReason.REFERENCE_UNREACHABLE, "cannot read " + describe(uri));
        }
    }

    /** The real path of the deepest ancestor of {@code path} that exists (links resolved); the root when none. */
    private static Path firstExistingAncestor(Path path) {
        for (Path p = path.getParent(); p != null; p = p.getParent()) {
            try {
                return p.toRealPath();
            } catch (IOException | SecurityException e) {
                // not there either: one level up
            }
        }
        return path.getRoot();
    }

    private RequestRejectedException tooLarge(URI uri) {
        return new RequestRejectedException(FailureReason.IMAGE_TOO_LARGE, "the image at " + describe(uri)
                + " is larger than image.max.bytes = " + maxBytes);
    }

    private static RequestRejectedException refused(URI uri, String rule) {
        return new RequestRejectedException(FailureReason.REFERENCE_REFUSED, "image reference " + describe(uri)
                + " refused: " + rule);
    }

    /**
     * A reference as messages show it: scheme, host, port and path (at most 120 characters), never the query string,
     * fragment or user info.
     */
    static String describe(URI uri) {
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT) + ":";
        String authority = uri.getHost() == null ? "" : "//" + uri.getHost() + (uri.getPort() == -1 ? ""
                : ":" + uri.getPort());
        String path = uri.getRawPath() == null ? (uri.isOpaque() ? "(opaque)" : "") : uri.getRawPath();
        if (scheme.equals("file:") && authority.isEmpty()) {
            authority = "";
        }
        String text = scheme + authority + path;
        return text.length() <= 120 ? text : text.substring(0, 119) + "…";
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    /**
     * Collects a response body up to a limit: past it the subscription is cancelled (the connection closes) and
     * the body fails with IMAGE_TOO_LARGE. For an answer that is not 200 ({@code limit} -1) it cancels at once and
     * reads nothing, so an endless error page costs nothing either.
     */
    private static final class LimitedBody implements HttpResponse.BodySubscriber<byte[]> {
        private final CompletableFuture<byte[]> body = new CompletableFuture<>();
        private final long limit;
        private volatile Flow.Subscription subscription;
        private byte[] buffer = new byte[0];
        private int size;

        LimitedBody(long limit, long contentLength) {
            this.limit = limit;
            if (limit >= 0 && contentLength > limit) {
                body.completeExceptionally(new RequestRejectedException(FailureReason.IMAGE_TOO_LARGE,
                        "the image is larger than image.max.bytes = " + limit + " (Content-Length "
                                + contentLength + ")"));
            } else if (limit >= 0 && contentLength > 0) {
                buffer = new byte[(int) contentLength];
            }
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription = s;
            if (limit < 0) {
                s.cancel();
                body.complete(null);
            } else if (body.isDone()) {
                s.cancel();
            } else {
                s.request(1);
            }
        }

        @Override
        public void onNext(List<ByteBuffer> items) {
            if (body.isDone()) {
                return;
            }
            for (ByteBuffer b : items) {
                int n = b.remaining();
                if ((long) size + n > limit) {
                    subscription.cancel();
                    body.completeExceptionally(new RequestRejectedException(FailureReason.IMAGE_TOO_LARGE,
                            "the image is larger than image.max.bytes = " + limit));
                    return;
                }
                if (size + n > buffer.length) {
                    buffer = java.util.Arrays.copyOf(buffer, (int) Math.min(limit, Math.max(size + n,
                            buffer.length * 2L + 8192)));
                }
                b.get(buffer, size, n);
                size += n;
            }
            subscription.request(1);
        }

        @Override
        public void onError(Throwable t) {
            body.completeExceptionally(t);
        }

        @Override
        public void onComplete() {
            body.complete(size == buffer.length ? buffer : java.util.Arrays.copyOf(buffer, size));
        }

        @Override
        public java.util.concurrent.CompletionStage<byte[]> getBody() {
            return body;
        }

        void cancel() {
            Flow.Subscription s = subscription;
            if (s != null) {
                s.cancel();
            }
            body.cancel(false);
        }
    }
}
