package io.medfuse.worker.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import io.medfuse.model.image.DicomDataset;
import io.medfuse.model.image.DicomParser;
import io.medfuse.model.image.ImageLimits;
import io.medfuse.testkit.DicomBuilder;

class PatientIdentifierTest {

    private static Optional<PatientIdentifier> read(String patientId) {
        DicomBuilder b = DicomBuilder.part10(DicomBuilder.EXPLICIT_LE);
        if (patientId != null) {
            b.string(0x0010_0020, "LO", patientId);
        }
        DicomDataset d = DicomParser.parse(b.bytes(), ImageLimits.defaults()).dataset();
        return PatientIdentifier.of(d);
    }

    @Test
    void readsOnePatientIdAndNeverShowsIt() {
        PatientIdentifier id = read("MRN-4711-0815").orElseThrow();
        assertThat(id.isValid()).isTrue();
        assertThat(id.value()).isEqualTo("MRN-4711-0815");
        assertThat(id.toString()).doesNotContain("4711");
        assertThat(read(null)).isEmpty();
        assertThat(read("")).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"A\\B", "tab\there", "nul\u0000in", "65-characters-0123456789012345678901234567890123456789012345678901"})
    void aMalformedPatientIdIsInvalidAndHoldsNothingOfIt(String raw) {
        PatientIdentifier id = read(raw).orElseThrow();
        assertThat(id.isValid()).isFalse();
        assertThat(id).isSameAs(PatientIdentifier.INVALID);
    }
}
