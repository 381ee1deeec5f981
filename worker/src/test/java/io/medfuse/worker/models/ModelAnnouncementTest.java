package io.medfuse.worker.models;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

import io.medfuse.worker.pipeline.RequestPipeline.Role;

/** Control records: what is read, and everything refused before a file is touched. */
class ModelAnnouncementTest {

    private static final String SHA = "ab".repeat(32);

    private static ModelAnnouncement parse(String key, String json) {
        return ModelAnnouncement.parse(key, json == null ? null : json.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void readsEachRoleAndWritesWhatItReads() {
        ModelAnnouncement a = parse("canary", "{\"role\":\"canary\",\"uri\":\"file:/models/v2.onnx\",\"sha256\":\""
                + SHA.toUpperCase() + "\",\"share\":0.1}");
        assertThat(a.role()).isEqualTo(Role.CANARY);
        assertThat(a.sha256()).isEqualTo(SHA);
        assertThat(a.share()).isEqualTo(0.1);
        assertThat(ModelAnnouncement.parse(a.key(), a.toJson())).isEqualTo(a);
        assertThat(parse("primary", "{\"role\":\"primary\",\"uri\":\"file:/m.onnx\",\"sha256\":\"" + SHA + "\"}")
                .share()).isNull();
        ModelAnnouncement removal = parse("shadow", null);
        assertThat(removal.remove()).isTrue();
        assertThat(removal.toJson()).isNull();
    }

    @Test
    void refusesWhatIsNotAnAnnouncement() {
        String ok = "\"uri\":\"file:/m.onnx\",\"sha256\":\"" + SHA + "\"";
        assertRefused("primary", null, "replaced but not removed");
        assertRefused("leader", "{}", "primary, canary or shadow");
        assertRefused(null, "{}", "primary, canary or shadow");
        assertRefused("primary", "not json", "not JSON");
        assertRefused("primary", "[1]", "not a JSON object");
        assertRefused("primary", "{\"role\":\"canary\"," + ok + ",\"share\":0.5}", "key (primary) and its role "
                + "(canary) differ");
        assertRefused("primary", "{\"role\":\"primary\"," + ok + ",\"url\":1}", "unknown field");
        assertRefused("primary", "{\"role\":\"primary\",\"sha256\":\"" + SHA + "\"}", "uri is missing");
        assertRefused("primary", "{\"role\":\"primary\",\"uri\":\"file:/m.onnx\",\"sha256\":\"abc\"}",
                "64 hexadecimal digits");
        assertRefused("canary", "{\"role\":\"canary\"," + ok + "}", "share between 0 and 1");
        assertRefused("canary", "{\"role\":\"canary\"," + ok + ",\"share\":1.5}", "share between 0 and 1");
        assertRefused("primary", "{\"role\":\"primary\"," + ok + ",\"share\":0.5}", "only a canary");
        assertRefused("primary", "{\"role\":\"primary\",\"uri\":\"" + "a".repeat(3000) + "\",\"sha256\":\"" + SHA
                + "\"}", "longer than 2048");
        assertRefused("primary", " ".repeat(ModelAnnouncement.MAX_BYTES + 1), "at most 4096");
    }

    private static void assertRefused(String key, String json, String message) {
        assertThatThrownBy(() -> parse(key, json))
                .isInstanceOf(ModelAnnouncement.InvalidAnnouncementException.class)
                .hasMessageContaining(message);
    }
}
