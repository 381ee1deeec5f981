package io.medfuse.worker.pipeline;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;

import io.medfuse.events.ImagingRequest;
import io.medfuse.events.Patient;
import io.medfuse.model.contract.FeatureSource;
import io.medfuse.model.contract.FeatureSpec;
import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.contract.SourceValues;

/**
 * Which sources the last requests supplied (patient fields, clinical keys, whether the image was DICOM), so a model
 * announced while the worker runs can be refused when a feature it needs would be imputed for every one of them:
 * such a model would answer from its image alone while claiming to use the clinical data. Values are kept only as
 * present or absent. Thread-safe.
 */
final class RecentSources {

    /** Fewer requests than this say too little: nothing is refused for want of them. */
    static final int MIN_REQUESTS = 20;

    /** What one request supplied: present (non-null) or absent, by source. */
    private record Supplied(boolean age, boolean sex, List<String> clinical, boolean dicom) implements SourceValues {
        @Override
        public Object patientAgeYears() {
            return age ? Boolean.TRUE : null;
        }

        @Override
        public Object patientSex() {
            return sex ? Boolean.TRUE : null;
        }

        @Override
        public Object clinical(String key) {
            return clinical.contains(key) ? Boolean.TRUE : null;
        }

        @Override
        public Object dicom(FeatureSource.DicomAttribute attribute) {
            // the tags are read later, from the image: a DICOM image may supply any of them
            return dicom ? Boolean.TRUE : null;
        }
    }

    private final int capacity;
    private final Deque<Supplied> recent = new ArrayDeque<>();

    RecentSources(int capacity) {
        this.capacity = capacity;
    }

    /** Notes what a validated request supplies (its clinical keys are bounded by validation). */
    void add(ImagingRequest request) {
        Patient p = request.getPatient();
        Map<String, Object> clinical = request.getClinical();
        List<String> keys = new ArrayList<>();
        if (clinical != null) {
            clinical.forEach((k, v) -> {
                if (v != null && !(v instanceof CharSequence s && s.toString().isBlank())) {
                    keys.add(k);
                }
            });
        }
        String mediaType = RequestPipeline.normalisedMediaType(request.getImage().getMediaType());
        Supplied s = new Supplied(p != null && p.getAgeYears() != null,
                p != null && p.getSex() != null && !p.getSex().isBlank(), List.copyOf(keys),
                "application/dicom".equals(mediaType));
        synchronized (recent) {
            recent.addLast(s);
            if (recent.size() > capacity) {
                recent.removeFirst();
            }
        }
    }

    /** Requests remembered now. */
    int size() {
        synchronized (recent) {
            return recent.size();
        }
    }

    /**
     * The features of a contract that none of the recent requests supplies through any of its sources; empty when
     * fewer than {@value #MIN_REQUESTS} requests were seen (too few to judge).
     */
    List<String> unsupplied(ModelContract contract) {
        List<Supplied> seen;
        synchronized (recent) {
            seen = List.copyOf(recent);
        }
        if (seen.size() < MIN_REQUESTS) {
            return List.of();
        }
        List<String> missing = new ArrayList<>();
        for (FeatureSpec f : contract.tabular()) {
            boolean supplied = seen.stream().anyMatch(s -> f.sources().stream().anyMatch(src -> src.readFrom(s)
                    != null));
            if (!supplied) {
                missing.add(f.name());
            }
        }
        return missing;
    }
}
