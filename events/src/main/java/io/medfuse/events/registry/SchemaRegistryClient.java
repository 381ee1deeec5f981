package io.medfuse.events.registry;

import org.apache.avro.Schema;

/**
 * The few calls of the Confluent Schema Registry REST API that a serde needs. Any server speaking that API works:
 * Confluent, Karapace, Redpanda, Apicurio's {@code ccompat} API, or {@link InProcessSchemaRegistry} (demo and tests).
 *
 * <p>Implementations are thread-safe and cache answers: a schema's id never changes once assigned, so both
 * directions can be cached forever.
 */
public interface SchemaRegistryClient {

    /**
     * Registers {@code schema} under {@code subject} ({@code POST /subjects/{subject}/versions}) and returns its
     * global id. Registering a schema that the subject already holds returns the existing id.
     *
     * @throws SchemaRegistryException when the registry refuses (e.g. HTTP 409: not compatible with the subject's
     *     latest version) or cannot be reached
     */
    int register(String subject, Schema schema);

    /**
     * Returns the id of {@code schema} under {@code subject} without registering it ({@code POST /subjects/{subject}}),
     * for producers that must not register schemas (auto-registration off).
     *
     * @throws SchemaRegistryException when the subject or the schema under it is not found (HTTP 404, error code
     *     40401 or 40403) or the registry cannot be reached
     */
    int lookup(String subject, Schema schema);

    /**
     * Returns the schema with global id {@code id} ({@code GET /schemas/ids/{id}}).
     *
     * @throws UnknownSchemaException when the registry has no schema with this id
     * @throws SchemaRegistryException when the registry cannot be reached, refuses, or returns a schema that is not
     *     Avro
     */
    Schema schemaById(int id);
}
