package io.medfuse.events.serde;

import org.apache.kafka.common.errors.SerializationException;

/**
 * A record value could not be decoded. {@link #failure()} says why, in a form a dead-letter route can switch on;
 * the message says what was wrong and where (byte offset, schema id, incompatibility), never the record's values.
 */
public class AvroDecodeException extends SerializationException {

    private final DecodeFailure failure;
    private final Integer schemaId;

    public AvroDecodeException(DecodeFailure failure, Integer schemaId, String message, Throwable cause) {
        super(message, cause);
        this.failure = java.util.Objects.requireNonNull(failure, "failure");
        this.schemaId = schemaId;
    }

    public AvroDecodeException(DecodeFailure failure, Integer schemaId, String message) {
        this(failure, schemaId, message, null);
    }

    /** Why the record could not be decoded; never null. */
    public DecodeFailure failure() {
        return failure;
    }

    /** The schema id read from the header, or null when the header could not be read. */
    public Integer schemaId() {
        return schemaId;
    }
}
