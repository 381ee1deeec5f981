package io.medfuse.events.registry;

import java.net.URI;
import java.time.Duration;
import java.util.Objects;

/**
 * Where the schema registry is and how to talk to it.
 *
 * @param url base URL of the registry's Confluent-compatible REST API; it may carry a path prefix (Apicurio:
 *     {@code http://host:8080/apis/ccompat/v7}), to which the API paths are appended. Not null.
 * @param basicAuthUser user for HTTP basic authentication, or null for none
 * @param basicAuthPassword password for HTTP basic authentication, or null; never logged nor put in messages
 * @param timeout limit for connecting and for each request; not null, positive
 */
public record RegistrySettings(URI url, String basicAuthUser, String basicAuthPassword, Duration timeout) {

    /** Used by {@link #of(URI)}: long enough for a busy registry, short enough not to stall a stream thread long. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);

    public RegistrySettings {
        Objects.requireNonNull(url, "url");
        Objects.requireNonNull(timeout, "timeout");
        if (!"http".equalsIgnoreCase(url.getScheme()) && !"https".equalsIgnoreCase(url.getScheme())) {
            throw new IllegalArgumentException("schema registry url must be http or https, got " + redact(url));
        }
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("schema registry timeout must be positive, got " + timeout);
        }
        if (basicAuthUser != null && basicAuthPassword == null) {
            throw new IllegalArgumentException("schema registry basic auth user is set but its password is not");
        }
    }

    /** No authentication, {@link #DEFAULT_TIMEOUT}. */
    public static RegistrySettings of(URI url) {
        return new RegistrySettings(url, null, null, DEFAULT_TIMEOUT);
    }

    /** Masks the password, so that logging the settings cannot leak it. */
    @Override
    public String toString() {
        return "RegistrySettings[url=" + redact(url) + ", basicAuthUser=" + basicAuthUser
                + ", basicAuthPassword=" + (basicAuthPassword == null ? "null" : "******")
                + ", timeout=" + timeout + "]";
    }

    /** The URL without any user-info part ({@code user:password@}), for messages and logs. */
    public static String redact(URI uri) {
        if (uri.getRawUserInfo() == null) {
            return uri.toString();
        }
        return uri.toString().replace(uri.getRawUserInfo() + "@", "");
    }
}
