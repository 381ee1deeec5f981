package io.medfuse.trainer.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

class ReferralTableTest {

    /** Four rows: confident and right, confident and right, unsure and wrong, unsure and right. */
    @Test
    void listsTheShareReferredAndTheAccuracyOfTheRowsKept() {
        float[][] p = {{0.95f, 0.05f}, {0.1f, 0.9f}, {0.6f, 0.4f}, {0.3f, 0.7f}};
        int[] truth = {0, 1, 1, 1};
        List<Map<String, Object>> rows = Evaluation.referralTable(p, truth, 2, 0.62);
        Map<String, Object> at50 = row(rows, 0.5);
        assertThat((double) at50.get("referredShare")).isZero();
        assertThat((double) at50.get("accuracyOfRest")).isCloseTo(0.75, within(1e-9));
        Map<String, Object> own = row(rows, 0.62);
        assertThat(own).containsEntry("contractThreshold", true).containsEntry("kept", 3);
        assertThat((double) own.get("referredShare")).isCloseTo(0.25, within(1e-9));
        assertThat((double) own.get("accuracyOfRest")).isCloseTo(1.0, within(1e-9));
        Map<String, Object> at95 = row(rows, 0.95);
        assertThat(at95).containsEntry("kept", 1);
        assertThat(at95.get("balancedAccuracyOfRest")).as("one class only among the rows kept").isNotNull();
        assertThat(rows).hasSize(Evaluation.REFERRAL_THRESHOLDS.length + 1);
    }

    private static Map<String, Object> row(List<Map<String, Object>> rows, double t) {
        return rows.stream().filter(r -> Math.abs((double) r.get("threshold") - t) < 1e-9).findFirst()
                .orElseThrow();
    }
}
