package io.medfuse.trainer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.medfuse.trainer.data.Dataset;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Writes {@code training.json} into a report folder: provenance, per-epoch history, exclusions, parity, timing. */
public final class TrainingReport {

    private TrainingReport() {
    }

    /**
     * @return the file written
     * @throws TrainerException when the folder or file cannot be written
     */
    public static Path write(Path dir, Dataset dataset, TrainingRun.Outcome out, Path model) {
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("model", model == null ? null : model.toString());
        report.put("sha256", io.medfuse.model.onnx.OnnxModelFile.sha256(out.onnx()));
        report.put("name", out.contract().name());
        report.put("version", out.contract().version());
        report.put("provenance", out.contract().provenance());
        report.put("labels", out.contract().labels());
        report.put("features", out.contract().tabular());
        report.put("rows", dataset.samples().size());
        report.put("excluded", dataset.excluded());
        report.put("exclusionExamples", dataset.exclusionExamples());
        report.put("history", out.training().history());
        report.put("parityMaxDelta", out.parityMaxDelta());
        report.put("seconds", Math.round(out.seconds() * 10) / 10.0);
        try {
            Files.createDirectories(dir);
            Path file = dir.resolve("training.json");
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(file.toFile(), report);
            return file;
        } catch (IOException e) {
            throw new TrainerException("cannot write the training report into " + dir + ": " + e.getMessage(), e);
        }
    }
}
