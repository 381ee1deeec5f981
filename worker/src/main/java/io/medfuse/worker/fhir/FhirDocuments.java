package io.medfuse.worker.fhir;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.UUID;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.medfuse.events.LabelProbability;
import io.medfuse.events.ModelIdentity;
import io.medfuse.events.Prediction;
import io.medfuse.events.SourceRef;
import io.medfuse.worker.pipeline.PatientIdentifier;

/**
 * A prediction as a FHIR R4 document (ADR 0012): a {@code transaction} Bundle of three entries, each created only
 * when the server does not hold it yet ({@code ifNoneExist} on its identifier), so replaying a prediction never
 * duplicates anything:
 * <ul>
 *   <li>a <b>Device</b> for the model (name, version, sha256 as identifier);</li>
 *   <li>an <b>Observation</b> (status {@code preliminary}: a machine's result no clinician has confirmed yet) whose
 *       value is the predicted class as a coded concept, with one component per class holding its probability
 *       (UCUM {@code 1}), the model as {@code device}, and the request's input notes (flags) as a note;</li>
 *   <li>a <b>DiagnosticReport</b> holding the Observation as its result, with the predicted class as conclusion.</li>
 * </ul>
 * Both refer to the ImagingStudy by its Study Instance UID ({@code urn:dicom:uid} identifier, {@code urn:oid:...})
 * when the request or its DICOM image names one. <b>No patient data</b> by default: there is no subject and
 * nothing from the image's patient tags. Only when the worker is configured with an identifier system
 * ({@code output.fhir.patient.identifier.system}) do the Observation and the DiagnosticReport name their subject,
 * as a logical reference by identifier: the DICOM object's PatientID under that system, which the receiving server
 * resolves to its Patient. Resource ids inside the Bundle are name-based UUIDs of the prediction id, so the same
 * prediction always gives the same document.
 *
 * <p>Written with Jackson (the worker's JSON library), not HAPI FHIR, whose R4 structures would bring about 40 MB of
 * transitive libraries into every worker; the tests parse every document with HAPI's own R4 parser. Thread-safe.
 */
public final class FhirDocuments {

    /** Identifier system of the prediction id (Observation, DiagnosticReport, Bundle). */
    public static final String PREDICTION_ID_SYSTEM = "urn:medfuse:prediction-id";
    /** Identifier system of a model's ONNX sha256 (Device). */
    public static final String MODEL_SHA256_SYSTEM = "urn:medfuse:model-sha256";
    /** Identifier system of DICOM UIDs (PS3.18 / FHIR ImagingStudy.identifier). */
    public static final String DICOM_UID_SYSTEM = "urn:dicom:uid";

    private static final String UCUM = "http://unitsofmeasure.org";
    private static final String OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category";

    private final ObjectMapper json = new ObjectMapper();
    /** The system PatientIDs are written under, or null: documents never name a patient. */
    private final String patientIdentifierSystem;

    /** Documents without any patient data. */
    public FhirDocuments() {
        this(null);
    }

    /**
     * @param patientIdentifierSystem the identifier system (an absolute URI, e.g. {@code urn:oid:} of the assigning
     *                                authority) a DICOM object's PatientID is written under as the subject; null:
     *                                documents never name a patient, whatever they are given
     */
    public FhirDocuments(String patientIdentifierSystem) {
        this.patientIdentifierSystem = patientIdentifierSystem;
    }

    /** The document for {@code p}, as UTF-8 JSON, without a subject. */
    public byte[] bundle(Prediction p) {
        return bundle(p, null);
    }

    /**
     * The document for {@code p}, as UTF-8 JSON.
     *
     * @param patient the image's PatientID; used only when this writer has an identifier system, else ignored
     */
    public byte[] bundle(Prediction p, PatientIdentifier patient) {
        ObjectNode subject = null;
        if (patientIdentifierSystem != null && patient != null && patient.isValid()) {
            subject = json.createObjectNode();
            subject.put("type", "Patient");
            subject.set("identifier", identifier(patientIdentifierSystem, patient.value()));
        }
        ModelIdentity model = p.getModel();
        String deviceUrl = urn(p, "device");
        String observationUrl = urn(p, "observation");
        String reportUrl = urn(p, "report");
        String modelSystem = "urn:medfuse:model:" + URLEncoder.encode(model.getName(), StandardCharsets.UTF_8);
        String labelSystem = modelSystem + ":labels";
        String studyUid = studyUid(p.getSource());

        ObjectNode bundle = json.createObjectNode();
        bundle.put("resourceType", "Bundle");
        bundle.set("identifier", identifier(PREDICTION_ID_SYSTEM, p.getPredictionId()));
        bundle.put("type", "transaction");
        bundle.put("timestamp", instant(p.getPredictedAt()));
        ArrayNode entries = bundle.putArray("entry");

        ObjectNode device = json.createObjectNode();
        device.put("resourceType", "Device");
        device.putArray("identifier").add(identifier(MODEL_SHA256_SYSTEM, model.getSha256()));
        ObjectNode deviceName = device.putArray("deviceName").addObject();
        deviceName.put("name", model.getName());
        deviceName.put("type", "model-name");
        device.putObject("type").put("text", "medfuse image and clinical data classifier (ONNX)");
        device.putArray("version").addObject().put("value", model.getVersion());
        entry(entries, deviceUrl, device, "Device", MODEL_SHA256_SYSTEM, model.getSha256());

        ObjectNode code = json.createObjectNode();
        code.putArray("coding").add(coding(modelSystem, "classification", model.getName() + " classification"));
        code.put("text", model.getName() + " " + model.getVersion() + " classification");

        ObjectNode observation = json.createObjectNode();
        observation.put("resourceType", "Observation");
        observation.putArray("identifier").add(identifier(PREDICTION_ID_SYSTEM, p.getPredictionId()));
        observation.put("status", "preliminary");
        observation.putArray("category").addObject().putArray("coding")
                .add(coding(OBSERVATION_CATEGORY, "imaging", "Imaging"));
        observation.set("code", code.deepCopy());
        if (subject != null) {
            observation.set("subject", subject.deepCopy());
        }
        observation.put("effectiveDateTime", instant(p.getRequestedAt()));
        observation.put("issued", instant(p.getPredictedAt()));
        observation.set("valueCodeableConcept", concept(labelSystem, p.getLabel()));
        observation.putObject("device").put("reference", deviceUrl);
        if (studyUid != null) {
            observation.putArray("derivedFrom").add(studyReference(studyUid));
        }
        List<String> flags = p.getFlags();
        if (flags != null && !flags.isEmpty()) {
            observation.putArray("note").addObject().put("text", "input notes: " + String.join(", ", flags));
        }
        ArrayNode components = observation.putArray("component");
        for (LabelProbability lp : p.getProbabilities()) {
            ObjectNode c = components.addObject();
            c.set("code", concept(labelSystem, lp.getLabel()));
            ObjectNode q = c.putObject("valueQuantity");
            q.put("value", lp.getProbability());
            q.put("unit", "probability");
            q.put("system", UCUM);
            q.put("code", "1");
        }
        entry(entries, observationUrl, observation, "Observation", PREDICTION_ID_SYSTEM, p.getPredictionId());

        ObjectNode report = json.createObjectNode();
        report.put("resourceType", "DiagnosticReport");
        report.putArray("identifier").add(identifier(PREDICTION_ID_SYSTEM, p.getPredictionId()));
        report.put("status", "preliminary");
        report.set("code", code);
        if (subject != null) {
            report.set("subject", subject);
        }
        report.put("effectiveDateTime", instant(p.getRequestedAt()));
        report.put("issued", instant(p.getPredictedAt()));
        report.putArray("result").addObject().put("reference", observationUrl);
        if (studyUid != null) {
            report.putArray("imagingStudy").add(studyReference(studyUid));
        }
        report.put("conclusion", p.getLabel() + " (probability " + String.format(java.util.Locale.ROOT, "%.3f",
                p.getProbability()) + ", " + model.getName() + " " + model.getVersion() + "; not confirmed by a "
                + "clinician)");
        report.putArray("conclusionCode").add(concept(labelSystem, p.getLabel()));
        entry(entries, reportUrl, report, "DiagnosticReport", PREDICTION_ID_SYSTEM, p.getPredictionId());

        try {
            return json.writeValueAsBytes(bundle);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write a FHIR document", e);
        }
    }

    private void entry(ArrayNode entries, String fullUrl, ObjectNode resource, String type, String system,
                       String value) {
        ObjectNode e = entries.addObject();
        e.put("fullUrl", fullUrl);
        e.set("resource", resource);
        ObjectNode request = e.putObject("request");
        request.put("method", "POST");
        request.put("url", type);
        request.put("ifNoneExist", "identifier=" + system + "|" + value);
    }

    private ObjectNode identifier(String system, String value) {
        ObjectNode n = json.createObjectNode();
        n.put("system", system);
        n.put("value", value);
        return n;
    }

    private ObjectNode coding(String system, String code, String display) {
        ObjectNode n = json.createObjectNode();
        n.put("system", system);
        n.put("code", code);
        if (display != null) {
            n.put("display", display);
        }
        return n;
    }

    private ObjectNode concept(String system, String label) {
        ObjectNode n = json.createObjectNode();
        n.putArray("coding").add(coding(system, label, label));
        n.put("text", label);
        return n;
    }

    private ObjectNode studyReference(String studyUid) {
        ObjectNode n = json.createObjectNode();
        n.put("type", "ImagingStudy");
        n.set("identifier", identifier(DICOM_UID_SYSTEM, "urn:oid:" + studyUid));
        return n;
    }

    /** The Study Instance UID when it has the form of a UID (anything else is not echoed). */
    private static String studyUid(SourceRef source) {
        String uid = source == null ? null : source.getStudyInstanceUid();
        return io.medfuse.model.image.DicomDataset.isUid(uid) ? uid : null;
    }

    private static String urn(Prediction p, String part) {
        return "urn:uuid:" + UUID.nameUUIDFromBytes((p.getPredictionId() + "/" + part)
                .getBytes(StandardCharsets.UTF_8));
    }

    private static String instant(Instant t) {
        return t == null ? null : t.toString();
    }
}
