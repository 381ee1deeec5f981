package io.medfuse.worker.models;

import java.util.Locale;

/** Why an announced model was refused; the current model keeps serving. As in metrics and status events. */
public enum RefusalReason {
    /** The announcement is not one (not JSON, unknown role, fields missing or out of bounds). */
    INVALID_ANNOUNCEMENT,
    /** Its URI is not a {@code file:} URI under {@code model.control.dir}. */
    URI_NOT_ALLOWED,
    /** The file cannot be read, or is larger than {@code model.max.bytes}. */
    UNREADABLE,
    /** The file's SHA-256 is not the one announced. */
    SHA256_MISMATCH,
    /** ONNX Runtime cannot load it, or its contract does not match its session (inputs, outputs, metadata). */
    CONTRACT_INVALID,
    /** Its labels are not the serving model's: downstream readers would see classes appear or vanish. */
    LABELS_DIFFER,
    /** A feature it needs is supplied by none of the recent requests (every one would be imputed). */
    FEATURES_NOT_SUPPLIED,
    /** Its warm-up run failed or returned something other than one probability distribution per row. */
    WARM_UP_FAILED,
    /** The role cannot be served here (a shadow without {@code model.shadow.topic}). */
    ROLE_NOT_CONFIGURED;

    /** The lower-case, hyphenated form used in metrics and events, e.g. {@code sha256-mismatch}. */
    public String id() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
}
