package io.medfuse.worker.models;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Locale;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.medfuse.events.ModelIdentity;
import io.medfuse.worker.pipeline.RequestPipeline.Role;

/**
 * What one worker made of one announcement, as published on the status topic (keyed by instance id) and logged.
 *
 * @param state {@code serving} (put in its role, or already there), {@code share} (the canary's share changed),
 *              {@code removed}, or {@code refused}
 * @param role the role announced; null when the record named none that could be read
 * @param model the model now serving in the role (for {@code refused}: the one that keeps serving); may be null
 * @param reason why it was refused; null otherwise
 * @param detail one sentence for an operator (never the file's content)
 */
public record ModelStatus(String instance, String state, Role role, String uri, String sha256, Double share,
                          ModelIdentity model, RefusalReason reason, String detail, Instant at) {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The status event's JSON. */
    public byte[] toJson() {
        ObjectNode o = JSON.createObjectNode();
        o.put("instance", instance);
        o.put("state", state);
        o.put("role", role == null ? null : role.name().toLowerCase(Locale.ROOT));
        o.put("uri", uri);
        o.put("sha256", sha256);
        if (share != null) {
            o.put("share", share);
        }
        if (model != null) {
            ObjectNode m = o.putObject("model");
            m.put("name", model.getName());
            m.put("version", model.getVersion());
            m.put("sha256", model.getSha256());
        }
        o.put("reason", reason == null ? null : reason.id());
        o.put("detail", detail);
        o.put("at", at.toString());
        return o.toString().getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public String toString() {
        return new String(toJson(), StandardCharsets.UTF_8);
    }
}
