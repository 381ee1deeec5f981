package io.medfuse.model.contract;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.annotation.JsonInclude;

/** Reads and writes the contract's JSON form. Thread-safe. */
public final class ModelContractJson {

    private static final ObjectMapper MAPPER = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false)
            .configure(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true)
            .setDefaultPropertyInclusion(JsonInclude.Value.construct(JsonInclude.Include.NON_NULL,
                    JsonInclude.Include.NON_NULL));

    private ModelContractJson() {
    }

    /**
     * Parses and validates a contract.
     *
     * @throws ModelContractException when the JSON is malformed or the contract invalid
     */
    public static ModelContract parse(String json) {
        if (json == null || json.isBlank()) {
            throw new ModelContractException("the model carries no contract (metadata key '"
                    + ModelContract.METADATA_KEY + "' is empty); attach one with 'medfuse contract'");
        }
        ModelContract contract;
        try {
            contract = MAPPER.readValue(json, ModelContract.class);
        } catch (JsonProcessingException e) {
            throw new ModelContractException("the model contract is not valid JSON for this medfuse version: "
                    + e.getOriginalMessage(), e);
        }
        return contract.validate();
    }

    /** Writes a validated contract as compact JSON with stable key order. */
    public static String write(ModelContract contract) {
        contract.validate();
        try {
            return MAPPER.writeValueAsString(contract);
        } catch (JsonProcessingException e) {
            throw new ModelContractException("cannot write model contract: " + e.getOriginalMessage(), e);
        }
    }

    /** Pretty-printed JSON, for people. */
    public static String writePretty(ModelContract contract) {
        try {
            return MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(contract);
        } catch (JsonProcessingException e) {
            throw new ModelContractException("cannot write model contract: " + e.getOriginalMessage(), e);
        }
    }
}
