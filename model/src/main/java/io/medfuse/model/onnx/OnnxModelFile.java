package io.medfuse.model.onnx;

import com.google.protobuf.InvalidProtocolBufferException;
import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.contract.ModelContractException;
import io.medfuse.model.contract.ModelContractJson;
import io.medfuse.model.onnx.proto.OnnxProtos.ModelProto;
import io.medfuse.model.onnx.proto.OnnxProtos.StringStringEntryProto;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads and edits an ONNX file's {@code metadata_props}, where medfuse keeps the model contract, without touching
 * anything else in the file: fields this code's ONNX schema subset does not know are carried through as protobuf
 * unknown fields, so a model exported by another tool keeps its graph, functions and training info.
 *
 * <p>All methods are static and thread-safe. Models above protobuf's 2 GiB message limit (external data) are not
 * supported.
 */
public final class OnnxModelFile {

    private OnnxModelFile() {
    }

    /**
     * Reads and validates the contract an ONNX file carries.
     *
     * @throws ModelContractException naming the file when it carries no contract or an invalid one
     * @throws OnnxFormatException when the file cannot be read or is not an ONNX model
     */
    public static ModelContract readContract(Path onnx) {
        return readContract(read(onnx), onnx.toString());
    }

    /**
     * Reads and validates the contract in ONNX bytes.
     *
     * @param sourceName where the bytes came from, for messages
     * @throws ModelContractException naming {@code sourceName} when there is no contract or an invalid one
     * @throws OnnxFormatException when the bytes are not an ONNX model
     */
    public static ModelContract readContract(byte[] onnx, String sourceName) {
        String json = parse(onnx, sourceName).getMetadataPropsList().stream()
                .filter(e -> ModelContract.METADATA_KEY.equals(e.getKey()))
                .map(StringStringEntryProto::getValue)
                .reduce((first, second) -> second)
                .orElse(null);
        return parseContract(json, sourceName);
    }

    /**
     * Parses contract JSON found in a model's metadata (by any reader, ONNX Runtime included).
     *
     * @param json the metadata value, or null when the key is absent
     * @param sourceName the model file or name, for messages
     * @throws ModelContractException naming {@code sourceName}
     */
    public static ModelContract parseContract(String json, String sourceName) {
        if (json == null) {
            throw new ModelContractException(sourceName + " carries no model contract (no metadata_props entry '"
                    + ModelContract.METADATA_KEY + "'); attach one with 'medfuse contract' before serving it");
        }
        try {
            return ModelContractJson.parse(json);
        } catch (ModelContractException e) {
            throw new ModelContractException(sourceName + ": " + e.getMessage(), e);
        }
    }

    /**
     * The model's {@code metadata_props} in file order (a later duplicate key wins).
     *
     * @throws OnnxFormatException when the bytes are not an ONNX model
     */
    public static Map<String, String> readMetadata(byte[] onnx) {
        Map<String, String> props = new LinkedHashMap<>();
        for (StringStringEntryProto e : parse(onnx, "ONNX bytes").getMetadataPropsList()) {
            props.put(e.getKey(), e.getValue());
        }
        return props;
    }

    /**
     * Returns the model with {@code props} set in its {@code metadata_props}: an existing key keeps its position
     * and gets the new value (duplicates of it are dropped), new keys are appended in {@code props}' iteration
     * order; every other byte of the model is kept.
     *
     * @throws OnnxFormatException when the bytes are not an ONNX model
     */
    public static byte[] withMetadata(byte[] onnx, Map<String, String> props) {
        ModelProto model = parse(onnx, "ONNX bytes");
        Map<String, String> pending = new LinkedHashMap<>(props);
        List<StringStringEntryProto> merged = new ArrayList<>();
        Set<String> written = new HashSet<>();
        for (StringStringEntryProto e : model.getMetadataPropsList()) {
            if (props.containsKey(e.getKey())) {
                if (written.add(e.getKey())) {
                    merged.add(entry(e.getKey(), pending.remove(e.getKey())));
                }
            } else {
                merged.add(e);
            }
        }
        pending.forEach((k, v) -> merged.add(entry(k, v)));
        return model.toBuilder().clearMetadataProps().addAllMetadataProps(merged).build().toByteArray();
    }

    /**
     * Validates {@code contract} and writes it as JSON under {@link ModelContract#METADATA_KEY}.
     *
     * @throws ModelContractException when the contract is invalid
     * @throws OnnxFormatException when the bytes are not an ONNX model
     */
    public static byte[] attachContract(byte[] onnx, ModelContract contract) {
        return withMetadata(onnx, Map.of(ModelContract.METADATA_KEY, ModelContractJson.write(contract)));
    }

    /** SHA-256 of {@code bytes} as 64 lower-case hex digits. */
    public static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
    }

    /**
     * Reads a whole model file.
     *
     * @throws OnnxFormatException naming the file when it cannot be read
     */
    public static byte[] read(Path onnx) {
        try {
            return Files.readAllBytes(onnx);
        } catch (IOException e) {
            throw new OnnxFormatException("cannot read ONNX model " + onnx + ": " + e, e);
        }
    }

    /**
     * Parses ONNX bytes, keeping unknown fields.
     *
     * @throws OnnxFormatException naming {@code sourceName} when the bytes are not an ONNX model
     */
    public static ModelProto parse(byte[] onnx, String sourceName) {
        ModelProto model;
        try {
            model = ModelProto.parseFrom(onnx);
        } catch (InvalidProtocolBufferException e) {
            throw new OnnxFormatException(sourceName + " is not an ONNX model (" + onnx.length + " bytes, protobuf: "
                    + e.getMessage() + ")", e);
        }
        // any protobuf message "parses" as a ModelProto of unknown fields; a real model has a graph
        if (!model.hasGraph()) {
            throw new OnnxFormatException(sourceName + " is not an ONNX model: it has no graph");
        }
        return model;
    }

    private static StringStringEntryProto entry(String key, String value) {
        return StringStringEntryProto.newBuilder().setKey(key).setValue(value == null ? "" : value).build();
    }
}
