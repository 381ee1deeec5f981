package io.medfuse.worker.pipeline;

import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * Where image references may point, decided by configuration alone: folders for {@code file:} references, servers
 * for {@code http(s):} references (with credentials for some), and the deadline of one fetch. Everything else is
 * refused. Immutable and thread-safe.
 *
 * <p>An empty policy ({@link #NONE}) refuses every reference: that is the default, so a worker reads nothing a
 * producer names unless an operator allowed the place.
 *
 * @param fileRoots folders as configured, absolute and normalised (lexical check)
 * @param realFileRoots the same folders with symbolic links resolved (the check after resolving a reference)
 * @param servers allowed http(s) servers, each with an optional path prefix
 * @param credentials authorization per prefix, most specific first
 * @param fetchTimeout the deadline of one whole fetch: connect, headers and body
 */
public record ReferencePolicy(List<Path> fileRoots, List<Path> realFileRoots, List<Server> servers,
                              List<Credential> credentials, Duration fetchTimeout) {

    /** Refuses every reference. */
    public static final ReferencePolicy NONE = new ReferencePolicy(List.of(), List.of(), List.of(), List.of(),
            Duration.ofSeconds(10));

    /** Folders nothing is ever read from, whatever the roots say: process and device files only look like files. */
    private static final List<Path> NEVER = List.of(Path.of("/proc"), Path.of("/sys"), Path.of("/dev"));

    /** Cloud metadata services: never reachable unless an entry names the address literally. */
    private static final Set<String> METADATA_ADDRESSES = Set.of("169.254.169.254", "fd00:ec2:0:0:0:0:0:254",
            "100.100.100.200");

    public ReferencePolicy {
        fileRoots = List.copyOf(fileRoots);
        realFileRoots = List.copyOf(realFileRoots);
        servers = List.copyOf(servers);
        credentials = List.copyOf(credentials);
    }

    /**
     * One allowed server: a scheme ({@code null}: http or https), a host (lower case), a port ({@code -1}: the
     * scheme's default) and a path prefix ({@code "/"}: any path).
     */
    public record Server(String scheme, String host, int port, String pathPrefix) {

        boolean matches(URI uri) {
            String s = uri.getScheme().toLowerCase(Locale.ROOT);
            if (scheme != null ? !scheme.equals(s) : !(s.equals("http") || s.equals("https"))) {
                return false;
            }
            if (uri.getHost() == null || !host.equals(bare(uri.getHost()))) {
                return false;
            }
            if (effectivePort(uri) != (port == -1 ? defaultPort(s) : port)) {
                return false;
            }
            String path = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
            return path.startsWith(pathPrefix);
        }

        private static int effectivePort(URI uri) {
            return uri.getPort() != -1 ? uri.getPort() : defaultPort(uri.getScheme().toLowerCase(Locale.ROOT));
        }

        private static int defaultPort(String scheme) {
            return scheme.equals("https") ? 443 : 80;
        }

        /** True when this entry names {@code address} itself (an IP literal, or localhost for loopback). */
        boolean namesLiterally(InetAddress address) {
            if (host.equals("localhost")) {
                return address.isLoopbackAddress();
            }
            return isIpLiteral(host) && literal(host).map(address::equals).orElse(false);
        }

        /** A host as compared: lower case, an IPv6 literal without its brackets. */
        private static String bare(String host) {
            String h = host.toLowerCase(Locale.ROOT);
            return h.startsWith("[") && h.endsWith("]") ? h.substring(1, h.length() - 1) : h;
        }

        /** As configured, for messages. */
        public String describe() {
            return (scheme == null ? "http(s)" : scheme) + "://" + (host.contains(":") ? "[" + host + "]" : host)
                    + (port == -1 ? "" : ":" + port) + pathPrefix;
        }
    }

    /** The {@code Authorization} header value sent to references under one prefix. Never logged. */
    public record Credential(Server scope, String authorization) {
        @Override
        public String toString() {
            return "Credential[" + scope.describe() + ", (hidden)]";
        }
    }

    /**
     * Builds a policy from configuration values, checking every one of them.
     *
     * @param roots folders for file: references; each must exist and be a folder
     * @param allow URL prefixes ({@code https://pacs.example.org/dicomweb/}) or {@code host[:port]}
     * @param credentials {@code PREFIX=bearer:TOKEN} or {@code PREFIX=basic:USER:PASSWORD}, separated by ';'
     * @throws IllegalArgumentException naming every bad entry (never a credential's secret)
     */
    public static ReferencePolicy parse(List<String> roots, List<String> allow, String credentials, int timeoutMs) {
        List<String> problems = new ArrayList<>();
        List<Path> fileRoots = new ArrayList<>();
        List<Path> realRoots = new ArrayList<>();
        for (String r : roots) {
            if (r.isBlank()) {
                continue;
            }
            try {
                Path p = Path.of(r.trim()).toAbsolutePath().normalize();
                if (!Files.isDirectory(p)) {
                    problems.add("image.reference.file.roots: " + p + " is not an existing folder");
                    continue;
                }
                fileRoots.add(p);
                realRoots.add(p.toRealPath());
            } catch (InvalidPathException | IOException e) {
                problems.add("image.reference.file.roots: '" + r.trim() + "' is not a usable folder: "
                        + e.getMessage());
            }
        }
        List<Server> servers = new ArrayList<>();
        for (String a : allow) {
            if (a.isBlank()) {
                continue;
            }
            try {
                servers.add(server(a.trim()));
            } catch (IllegalArgumentException e) {
                problems.add("image.reference.http.allow: " + e.getMessage());
            }
        }
        List<Credential> creds = new ArrayList<>();
        int n = 0;
        for (String entry : credentials == null ? new String[0] : credentials.split(";")) {
            n++;
            if (entry.isBlank()) {
                continue;
            }
            int eq = entry.indexOf('=');
            if (eq <= 0) {
                problems.add("image.reference.http.credentials: entry " + n + " is not PREFIX=bearer:TOKEN or "
                        + "PREFIX=basic:USER:PASSWORD");
                continue;
            }
            String prefix = entry.substring(0, eq).trim();
            String secret = entry.substring(eq + 1).trim();
            Server scope;
            try {
                scope = server(prefix);
            } catch (IllegalArgumentException e) {
                problems.add("image.reference.http.credentials: entry " + n + ": " + e.getMessage());
                continue;
            }
            if (scope.scheme() == null) {
                problems.add("image.reference.http.credentials: entry " + n + " (" + scope.describe()
                        + ") must be a URL prefix with its scheme (https://...), so a redirect to another scheme "
                        + "never carries it");
                continue;
            }
            if (servers.stream().noneMatch(s -> covers(s, scope))) {
                problems.add("image.reference.http.credentials: entry " + n + " (" + scope.describe()
                        + ") is not inside any image.reference.http.allow entry");
                continue;
            }
            String header;
            if (secret.regionMatches(true, 0, "bearer:", 0, 7) && secret.length() > 7) {
                header = "Bearer " + secret.substring(7);
            } else if (secret.regionMatches(true, 0, "basic:", 0, 6) && secret.indexOf(':', 6) > 6) {
                header = "Basic " + Base64.getEncoder().encodeToString(secret.substring(6)
                        .getBytes(StandardCharsets.UTF_8));
            } else {
                problems.add("image.reference.http.credentials: entry " + n + " (" + scope.describe()
                        + "): the secret must be bearer:TOKEN or basic:USER:PASSWORD");
                continue;
            }
            if (header.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
                problems.add("image.reference.http.credentials: entry " + n + " contains control characters");
                continue;
            }
            creds.add(new Credential(scope, header));
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(String.join("; ", problems));
        }
        // the most specific prefix wins
        creds.sort(Comparator.comparingInt((Credential c) -> c.scope().pathPrefix().length()).reversed());
        return new ReferencePolicy(fileRoots, realRoots, servers, creds, Duration.ofMillis(timeoutMs));
    }

    /** True when every URL {@code inner} matches is also matched by {@code outer}. */
    private static boolean covers(Server outer, Server inner) {
        boolean scheme = outer.scheme() == null || outer.scheme().equals(inner.scheme());
        boolean port = outer.port() == inner.port() || outer.port() == -1 && inner.port() == -1;
        return scheme && outer.host().equals(inner.host()) && port && inner.pathPrefix().startsWith(outer.pathPrefix());
    }

    private static Server server(String entry) {
        if (!entry.contains("://")) {
            URI uri;
            try {
                uri = new URI("http://" + entry + "/");
            } catch (URISyntaxException e) {
                throw new IllegalArgumentException("'" + entry + "' is neither a URL prefix nor host[:port]");
            }
            if (uri.getHost() == null || uri.getRawUserInfo() != null || !"/".equals(uri.getRawPath())) {
                throw new IllegalArgumentException("'" + entry + "' is neither a URL prefix nor host[:port]");
            }
            return new Server(null, uri.getHost().toLowerCase(Locale.ROOT).replace("[", "").replace("]", ""),
                    uri.getPort(), "/");
        }
        URI uri;
        try {
            uri = new URI(entry);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("'" + entry + "' is not a URL: " + e.getReason());
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) {
            throw new IllegalArgumentException("'" + entry + "': only http and https servers can be allowed");
        }
        if (uri.getHost() == null) {
            throw new IllegalArgumentException("'" + entry + "' has no host");
        }
        if (uri.getRawUserInfo() != null || uri.getRawQuery() != null || uri.getRawFragment() != null) {
            throw new IllegalArgumentException("'" + uri.getHost() + "…': an allowed prefix carries no user info, "
                    + "query or fragment (credentials go in image.reference.http.credentials)");
        }
        String path = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
        if (!path.endsWith("/")) {
            // a prefix ends at a path segment: /dicomweb must not also allow /dicomweb-admin
            path = path + "/";
        }
        if (hasDotSegments(path)) {
            throw new IllegalArgumentException("'" + entry + "' contains . or .. path segments");
        }
        return new Server(scheme, uri.getHost().toLowerCase(Locale.ROOT).replace("[", "").replace("]", ""),
                uri.getPort(), path);
    }

    /** True when no reference can pass (the default). */
    public boolean refusesEverything() {
        return fileRoots.isEmpty() && servers.isEmpty();
    }

    /** The configured folder containing {@code normalised} lexically, if any. */
    Optional<Path> rootLexicallyContaining(Path normalised) {
        return fileRoots.stream().filter(normalised::startsWith).findFirst();
    }

    /** True when a resolved path lies under a resolved root and outside the never-read folders. */
    boolean allowsRealPath(Path real) {
        return realFileRoots.stream().anyMatch(real::startsWith) && NEVER.stream().noneMatch(real::startsWith);
    }

    /** True when the path lies in a folder that is never read (/proc, /sys, /dev). */
    static boolean inNeverReadFolder(Path real) {
        return NEVER.stream().anyMatch(real::startsWith);
    }

    /** The allowed server matching {@code uri}, if any. */
    Optional<Server> serverFor(URI uri) {
        return servers.stream().filter(s -> s.matches(uri)).findFirst();
    }

    /** The Authorization header for {@code uri}, if a credential's prefix covers it. */
    Optional<String> authorizationFor(URI uri) {
        return credentials.stream().filter(c -> c.scope().matches(uri)).map(Credential::authorization).findFirst();
    }

    /**
     * Why {@code address} may not be contacted through {@code server}, or empty when it may: loopback, link-local,
     * any-local, multicast and metadata addresses only when the entry names them literally.
     */
    static Optional<String> addressRefusal(Server server, InetAddress address) {
        boolean special = address.isLoopbackAddress() || address.isLinkLocalAddress() || address.isAnyLocalAddress()
                || address.isMulticastAddress() || METADATA_ADDRESSES.contains(address.getHostAddress());
        if (!special || server.namesLiterally(address)) {
            return Optional.empty();
        }
        String kind = address.isLoopbackAddress() ? "a loopback address"
                : METADATA_ADDRESSES.contains(address.getHostAddress()) ? "a cloud metadata address"
                : address.isLinkLocalAddress() ? "a link-local address"
                : address.isMulticastAddress() ? "a multicast address" : "an unspecified address";
        return Optional.of("the host resolves to " + kind + ", which is refused unless an "
                + "image.reference.http.allow entry names that address literally");
    }

    /**
     * True when a raw path could mean another path to a server than it does to a prefix check: {@code .} or
     * {@code ..} segments (also percent-encoded), path parameters ({@code ..;/} is {@code ../} to Tomcat, Jetty and
     * Spring), encoded slashes, backslashes, encoded percent signs or semicolons.
     */
    static boolean hasDotSegments(String rawPath) {
        String lower = rawPath.toLowerCase(Locale.ROOT);
        if (lower.contains(";") || lower.contains("\\") || lower.contains("%2f") || lower.contains("%5c")
                || lower.contains("%25") || lower.contains("%3b")) {
            return true;
        }
        for (String seg : lower.split("/", -1)) {
            String s = seg.replace("%2e", ".");
            if (s.equals(".") || s.equals("..")) {
                return true;
            }
        }
        return false;
    }

    private static boolean isIpLiteral(String host) {
        return host.matches("[0-9.]+") || host.contains(":");
    }

    private static Optional<InetAddress> literal(String host) {
        try {
            // an IP literal: getByName does not look anything up
            return Optional.of(InetAddress.getByName(host));
        } catch (UnknownHostException e) {
            return Optional.empty();
        }
    }

    @Override
    public String toString() {
        return "ReferencePolicy[file roots " + fileRoots + ", servers "
                + servers.stream().map(Server::describe).toList() + ", " + credentials.size()
                + " credential(s), fetch deadline " + fetchTimeout.toMillis() + " ms]";
    }
}
