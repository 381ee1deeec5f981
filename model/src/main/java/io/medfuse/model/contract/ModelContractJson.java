package io.medfuse.model.contract;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
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
            JsonNode tree = MAPPER.readTree(json);
            checkFeatures(tree);
            contract = MAPPER.treeToValue(tree, ModelContract.class);
        } catch (JsonProcessingException e) {
            throw new ModelContractException("the model contract is not valid JSON for this medfuse version: "
                    + e.getOriginalMessage(), e);
        }
        return contract.validate();
    }

    /**
     * What Jackson would report only as a type-resolution error, said per feature: a missing or unknown
     * {@code type}, and sources that are not text in one of {@link FeatureSource#FORMS}.
     */
    private static void checkFeatures(JsonNode tree) {
        JsonNode tabular = tree.path("tabular");
        if (!tabular.isArray()) {
            return;
        }
        List<String> problems = new ArrayList<>();
        for (int i = 0; i < tabular.size(); i++) {
            JsonNode f = tabular.get(i);
            if (!f.isObject()) {
                continue;
            }
            String where = "tabular[" + i + "]" + (f.path("name").isTextual() ? " (" + f.get("name").asText() + ")" : "");
            JsonNode type = f.get("type");
            if (type == null || type.isNull()) {
                problems.add(where + ": type is missing (NUMERIC or CATEGORICAL)");
            } else if (!type.isTextual() || Arrays.stream(FeatureSpec.Kind.values())
                    .noneMatch(k -> k.name().equals(type.asText()))) {
                problems.add(where + ": type must be NUMERIC or CATEGORICAL");
            }
            JsonNode sources = f.get("sources");
            if (sources != null && !sources.isNull()) {
                if (!sources.isArray()) {
                    problems.add(where + ": sources must be a list of " + FeatureSource.FORMS);
                    continue;
                }
                for (JsonNode s : sources) {
                    try {
                        FeatureSource.parse(s.isTextual() ? s.asText() : null);
                    } catch (IllegalArgumentException e) {
                        problems.add(where + ": " + e.getMessage());
                    }
                }
            }
        }
        if (!problems.isEmpty()) {
            String name = tree.path("name").isTextual() ? tree.get("name").asText() : null;
            throw new ModelContractException("invalid model contract" + (name == null ? "" : " for model '" + name
                    + "'") + ": " + String.join("; ", problems));
        }
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
