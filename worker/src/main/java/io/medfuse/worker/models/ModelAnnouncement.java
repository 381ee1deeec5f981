package io.medfuse.worker.models;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.Locale;
import java.util.Set;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.medfuse.worker.pipeline.RequestPipeline.Role;

/**
 * One record of the model control topic: which model file serves in a role. The topic is compacted and keyed by
 * the role ({@code primary}, {@code canary}, {@code shadow}), so it always holds the latest word on each; the value
 * is a small JSON object, written by {@code bin/medfuse model announce} or by hand:
 *
 * <pre>{"role":"canary","uri":"file:/models/derm-2.onnx","sha256":"9f86…","share":0.1}</pre>
 *
 * A record without a value (a tombstone) under {@code canary} or {@code shadow} removes that model. Everything in
 * it is bounded and checked before anything is read: the value's size, the fields, the role matching the key, the
 * SHA-256's form, the share's range.
 *
 * @param share the canary's share of requests (0 to 1); null for the other roles
 * @param remove whether this removes the role's model (a tombstone); uri and sha256 are then null
 */
public record ModelAnnouncement(Role role, URI uri, String sha256, Double share, boolean remove) {

    /** Largest value accepted, in bytes. */
    public static final int MAX_BYTES = 4096;
    private static final Set<String> FIELDS = Set.of("role", "uri", "sha256", "share");
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A rejected announcement: its message names what is wrong, never more than the field's name. */
    public static final class InvalidAnnouncementException extends RuntimeException {
        InvalidAnnouncementException(String message) {
            super(message);
        }
    }

    /** The role for a key or field value ({@code primary}, {@code canary}, {@code shadow}), any case. */
    public static Role role(String text) {
        if (text != null) {
            for (Role r : Role.values()) {
                if (r.name().equalsIgnoreCase(text.trim())) {
                    return r;
                }
            }
        }
        throw new InvalidAnnouncementException("the role must be primary, canary or shadow");
    }

    /**
     * Reads one control record.
     *
     * @throws InvalidAnnouncementException naming the problem
     */
    public static ModelAnnouncement parse(String key, byte[] value) {
        Role keyRole = role(key == null || key.length() > 16 ? null : key);
        if (value == null) {
            if (keyRole == Role.PRIMARY) {
                throw new InvalidAnnouncementException("the primary model can be replaced but not removed");
            }
            return new ModelAnnouncement(keyRole, null, null, null, true);
        }
        if (value.length > MAX_BYTES) {
            throw new InvalidAnnouncementException("the announcement has " + value.length + " bytes; at most "
                    + MAX_BYTES + " are read");
        }
        JsonNode node;
        try {
            node = JSON.readTree(new String(value, StandardCharsets.UTF_8));
        } catch (JsonProcessingException e) {
            throw new InvalidAnnouncementException("the announcement is not JSON");
        }
        if (!(node instanceof ObjectNode o)) {
            throw new InvalidAnnouncementException("the announcement is not a JSON object");
        }
        for (Iterator<String> names = o.fieldNames(); names.hasNext();) {
            String name = names.next();
            if (!FIELDS.contains(name)) {
                throw new InvalidAnnouncementException("unknown field in the announcement (fields: role, uri, "
                        + "sha256, share)");
            }
        }
        Role role = role(text(o, "role", 16));
        if (role != keyRole) {
            throw new InvalidAnnouncementException("the record's key (" + keyRole.name().toLowerCase(Locale.ROOT)
                    + ") and its role (" + role.name().toLowerCase(Locale.ROOT) + ") differ");
        }
        String uriText = text(o, "uri", 2048);
        URI uri;
        try {
            uri = new URI(uriText);
        } catch (java.net.URISyntaxException e) {
            throw new InvalidAnnouncementException("uri is not a URI");
        }
        String sha = text(o, "sha256", 64).toLowerCase(Locale.ROOT);
        if (!sha.matches("[0-9a-f]{64}")) {
            throw new InvalidAnnouncementException("sha256 must be 64 hexadecimal digits");
        }
        Double share = null;
        JsonNode s = o.get("share");
        if (role == Role.CANARY) {
            if (s == null || !s.isNumber() || !(s.asDouble() >= 0 && s.asDouble() <= 1)) {
                throw new InvalidAnnouncementException("a canary needs a share between 0 and 1");
            }
            share = s.asDouble();
        } else if (s != null) {
            throw new InvalidAnnouncementException("only a canary has a share");
        }
        return new ModelAnnouncement(role, uri, sha, share, false);
    }

    private static String text(ObjectNode o, String field, int max) {
        JsonNode n = o.get(field);
        if (n == null || !n.isTextual() || n.asText().isEmpty()) {
            throw new InvalidAnnouncementException(field + " is missing or not text");
        }
        if (n.asText().length() > max) {
            throw new InvalidAnnouncementException(field + " is longer than " + max + " characters");
        }
        return n.asText();
    }

    /** The JSON value for this announcement (null for a removal). */
    public byte[] toJson() {
        if (remove) {
            return null;
        }
        ObjectNode o = JSON.createObjectNode();
        o.put("role", role.name().toLowerCase(Locale.ROOT));
        o.put("uri", uri.toString());
        o.put("sha256", sha256);
        if (share != null) {
            o.put("share", share);
        }
        return o.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** The record key: the role, lower case. */
    public String key() {
        return role.name().toLowerCase(Locale.ROOT);
    }
}
