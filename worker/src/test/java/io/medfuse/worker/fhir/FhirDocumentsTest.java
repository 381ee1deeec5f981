package io.medfuse.worker.fhir;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;

import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.DiagnosticReport;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.Reference;
import org.junit.jupiter.api.Test;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.parser.IParser;
import ca.uhn.fhir.parser.StrictErrorHandler;
import io.medfuse.events.LabelProbability;
import io.medfuse.events.ModelIdentity;
import io.medfuse.events.Prediction;
import io.medfuse.events.SourceRef;
import io.medfuse.events.Timings;
import io.medfuse.worker.pipeline.PatientIdentifier;

/** Every document, parsed back by HAPI FHIR's R4 parser in strict mode, holds what the prediction said. */
public class FhirDocumentsTest {

    public static final FhirContext R4 = FhirContext.forR4();
    private static final String STUDY = "1.2.826.0.1.3680043.8.498.1";

    static Prediction prediction(SourceRef source, List<String> flags) {
        return Prediction.newBuilder().setPredictionId("5b0e6c63-93a8-3f3d-9d5e-0f2b5b7d7d11").setRequestId("r-1")
                .setModel(ModelIdentity.newBuilder().setName("medfuse-demo").setVersion("0.2.0").setSha256("ab".repeat(32))
                        .setExecutionProvider("CPU").build())
                .setLabel("melanoma").setProbability(0.7)
                .setProbabilities(List.of(new LabelProbability("nevus", 0.2), new LabelProbability("melanoma", 0.7),
                        new LabelProbability("benign_keratosis", 0.1)))
                .setRequestedAt(Instant.parse("2026-12-02T10:00:00Z")).setPredictedAt(Instant.parse(
                        "2026-12-02T10:00:01.250Z"))
                .setTimings(Timings.newBuilder().setQueueWaitMs(1).setPreprocessMs(2).setInferenceMs(3)
                        .setBatchSize(1).setPaddedBatchSize(1).build())
                .setFlags(flags).setSource(source).build();
    }

    /** HAPI's strict parser: an unknown element or a wrong type is an error, not a warning. */
    public static Bundle parse(byte[] json) {
        IParser parser = R4.newJsonParser().setParserErrorHandler(new StrictErrorHandler());
        return parser.parseResource(Bundle.class, new String(json, StandardCharsets.UTF_8));
    }

    /** The required elements of each resource, every reference resolved inside the Bundle, and no subject. */
    public static void assertWellFormed(Bundle b, Prediction p) {
        assertWellFormed(b, p, null, null);
    }

    /**
     * The required elements of each resource, and every reference resolved inside the Bundle.
     *
     * @param subjectSystem the identifier system of the expected subject, or null: none
     * @param subjectValue the PatientID expected under it
     */
    public static void assertWellFormed(Bundle b, Prediction p, String subjectSystem, String subjectValue) {
        assertThat(b.getType()).isEqualTo(Bundle.BundleType.TRANSACTION);
        assertThat(b.getEntry()).hasSize(3);
        assertThat(b.getEntry()).allSatisfy(e -> {
            assertThat(e.getFullUrl()).startsWith("urn:uuid:");
            assertThat(e.getRequest().getMethod()).isEqualTo(Bundle.HTTPVerb.POST);
            assertThat(e.getRequest().getIfNoneExist()).startsWith("identifier=");
        });
        Observation o = (Observation) b.getEntry().get(1).getResource();
        DiagnosticReport r = (DiagnosticReport) b.getEntry().get(2).getResource();
        assertThat(o.getStatus()).isEqualTo(Observation.ObservationStatus.PRELIMINARY);
        assertThat(o.getCode().getCodingFirstRep().getCode()).isEqualTo("classification");
        assertThat(o.getValueCodeableConcept().getCodingFirstRep().getCode()).isEqualTo(p.getLabel());
        assertThat(o.getComponent()).hasSize(p.getProbabilities().size());
        for (int i = 0; i < p.getProbabilities().size(); i++) {
            assertThat(o.getComponent().get(i).getCode().getCodingFirstRep().getCode())
                    .isEqualTo(p.getProbabilities().get(i).getLabel());
            assertThat(o.getComponent().get(i).getValueQuantity().getValue().doubleValue())
                    .isEqualTo(p.getProbabilities().get(i).getProbability());
            assertThat(o.getComponent().get(i).getValueQuantity().getCode()).isEqualTo("1");
        }
        assertThat(o.getDevice().getReference()).isEqualTo(b.getEntry().get(0).getFullUrl());
        assertThat(o.getIdentifierFirstRep().getValue()).isEqualTo(p.getPredictionId());
        assertSubject(o.hasSubject() ? o.getSubject() : null, subjectSystem, subjectValue);
        assertThat(r.getStatus()).isEqualTo(DiagnosticReport.DiagnosticReportStatus.PRELIMINARY);
        assertThat(r.getCode().getCodingFirstRep().getCode()).isEqualTo("classification");
        assertThat(r.getResultFirstRep().getReference()).isEqualTo(b.getEntry().get(1).getFullUrl());
        assertThat(r.getConclusionCodeFirstRep().getCodingFirstRep().getCode()).isEqualTo(p.getLabel());
        assertSubject(r.hasSubject() ? r.getSubject() : null, subjectSystem, subjectValue);
        org.hl7.fhir.r4.model.Device d = (org.hl7.fhir.r4.model.Device) b.getEntry().get(0).getResource();
        assertThat(d.getIdentifierFirstRep().getValue()).isEqualTo(p.getModel().getSha256());
        assertThat(d.getDeviceNameFirstRep().getName()).isEqualTo(p.getModel().getName());
        assertThat(d.getVersionFirstRep().getValue()).isEqualTo(p.getModel().getVersion());
    }

    private static void assertSubject(Reference subject, String system, String value) {
        if (system == null) {
            assertThat(subject).as("no patient").isNull();
            return;
        }
        assertThat(subject).as("the patient, by identifier").isNotNull();
        assertThat(subject.getType()).isEqualTo("Patient");
        assertThat(subject.hasReference()).as("a logical reference: the server resolves it").isFalse();
        assertThat(subject.getIdentifier().getSystem()).isEqualTo(system);
        assertThat(subject.getIdentifier().getValue()).isEqualTo(value);
    }

    @Test
    void aConfiguredSystemNamesThePatientByIdentifierAndNothingElseDoes() {
        Prediction p = prediction(SourceRef.newBuilder().setStudyInstanceUid(STUDY).build(), List.of());
        PatientIdentifier mrn = new PatientIdentifier("MRN-4711-0815");
        String system = "urn:oid:1.2.826.0.1.3680043.8.498.99";
        Bundle b = parse(new FhirDocuments(system).bundle(p, mrn));
        assertWellFormed(b, p, system, "MRN-4711-0815");
        // no system configured: the identifier is ignored, whatever the caller passes
        byte[] unnamed = new FhirDocuments().bundle(p, mrn);
        assertWellFormed(parse(unnamed), p);
        assertThat(new String(unnamed, StandardCharsets.UTF_8)).doesNotContain("MRN-4711-0815");
        // a system but no PatientID in the object: no subject
        assertWellFormed(parse(new FhirDocuments(system).bundle(p, null)), p);
    }

    @Test
    void aPredictionOfADicomStudyIsABundleHapiReadsStrictly() {
        Prediction p = prediction(SourceRef.newBuilder().setSystem("pacs").setStudyInstanceUid(STUDY).build(),
                List.of("age:from-dicom"));
        byte[] json = new FhirDocuments().bundle(p);
        Bundle b = parse(json);
        assertWellFormed(b, p);
        Observation o = (Observation) b.getEntry().get(1).getResource();
        DiagnosticReport r = (DiagnosticReport) b.getEntry().get(2).getResource();
        assertThat(r.getImagingStudyFirstRep().getIdentifier().getValue()).isEqualTo("urn:oid:" + STUDY);
        assertThat(r.getImagingStudyFirstRep().getIdentifier().getSystem()).isEqualTo("urn:dicom:uid");
        assertThat(o.getDerivedFromFirstRep().getType()).isEqualTo("ImagingStudy");
        assertThat(o.getNoteFirstRep().getText()).contains("age:from-dicom");
        assertThat(new String(json, StandardCharsets.UTF_8)).doesNotContain("Patient");
    }

    @Test
    void theSamePredictionGivesTheSameDocumentAndAMalformedStudyUidIsNotEchoed() {
        Prediction p = prediction(SourceRef.newBuilder().setStudyInstanceUid("<script>").build(), List.of());
        byte[] first = new FhirDocuments().bundle(p);
        assertThat(new FhirDocuments().bundle(p)).isEqualTo(first);
        Bundle b = parse(first);
        assertWellFormed(b, p);
        assertThat(((DiagnosticReport) b.getEntry().get(2).getResource()).hasImagingStudy()).isFalse();
        assertThat(new String(first, StandardCharsets.UTF_8)).doesNotContain("<script>");
        assertThat(parse(new FhirDocuments().bundle(prediction(null, List.of()))).getEntry()).hasSize(3);
    }
}
