package io.medfuse.events.registry;

/**
 * The schema registry refused a call or could not be reached. The message names the URL called (never a password),
 * the HTTP status and the registry's error code and message.
 */
public class SchemaRegistryException extends RuntimeException {

    /** {@link #status()} when no HTTP answer came back (connection refused, timeout, interrupted). */
    public static final int NO_RESPONSE = 0;

    private final int status;
    private final int errorCode;

    public SchemaRegistryException(String message, int status, int errorCode, Throwable cause) {
        super(message, cause);
        this.status = status;
        this.errorCode = errorCode;
    }

    public SchemaRegistryException(String message, int status, int errorCode) {
        this(message, status, errorCode, null);
    }

    /**
     * HTTP status of the registry's answer; {@link #NO_RESPONSE} (0) when none came back; 200 when the answer came
     * back but could not be used (e.g. a schema that is not Avro).
     */
    public int status() {
        return status;
    }

    /** The registry's {@code error_code} (e.g. 40403, 409), or 0 when the answer carried none. */
    public int errorCode() {
        return errorCode;
    }

    /** True when no HTTP answer came back: the registry is down or unreachable, and a retry may succeed. */
    public boolean isUnreachable() {
        return status == NO_RESPONSE;
    }
}
