package io.medfuse.events.registry;

/** The registry has no schema with the requested id (HTTP 404, error code 40403). */
public class UnknownSchemaException extends SchemaRegistryException {

    private final int schemaId;

    public UnknownSchemaException(int schemaId, String message, int status, int errorCode) {
        super(message, status, errorCode);
        this.schemaId = schemaId;
    }

    /** The id that was asked for. */
    public int schemaId() {
        return schemaId;
    }
}
