package io.medfuse.events.serde;

/** Why a record value could not be decoded by {@link ConfluentAvroCodec}. */
public enum DecodeFailure {
    /** Null or empty, or the bytes after a valid header are not Avro for the writer schema (truncated, garbage). */
    NOT_AVRO,
    /** Shorter than the 5-byte header, or the first byte is not the Confluent magic byte 0x00. */
    WRONG_MAGIC_BYTE,
    /** The header names a schema id the registry does not know. */
    UNKNOWN_SCHEMA_ID,
    /** The writer schema cannot be read as the reader's (other record name, required fields missing, ...). */
    INCOMPATIBLE_SCHEMA,
    /**
     * The writer schema could not be fetched: the registry is down, unreachable, refused us (401/403/5xx). The record
     * itself may be fine; this is the only failure worth retrying rather than dead-lettering.
     */
    REGISTRY_UNAVAILABLE;

    /** True when the same bytes may decode later (the registry came back); false when the record itself is bad. */
    public boolean isRetriable() {
        return this == REGISTRY_UNAVAILABLE;
    }
}
