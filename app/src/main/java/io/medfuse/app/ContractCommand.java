package io.medfuse.app;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.contract.ModelContractException;
import io.medfuse.model.contract.ModelContractJson;
import io.medfuse.model.engine.EngineOptions;
import io.medfuse.model.engine.OnnxClassifier;
import io.medfuse.model.onnx.OnnxModelFile;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code medfuse contract}: show a model's contract, or attach one to an ONNX file made elsewhere. */
@Command(name = "contract", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
            "Shows the model contract an ONNX file carries (inputs, image preprocessing, tabular features, labels, "
                    + "provenance), or with --attach writes a copy of the file that carries the given contract, so "
                    + "'medfuse serve' can serve a two-input model trained elsewhere (Keras, PyTorch, ...).",
            "Attaching checks the result the way the worker does at start-up: the graph's input and output names, "
                    + "types and static sizes must match the contract, or nothing is written.",
            "",
            "Examples:",
            "  medfuse contract --onnx model.onnx",
            "  medfuse contract --onnx exported.onnx --attach contract.json --out servable.onnx",
            ""
        })
final class ContractCommand implements Callable<Integer> {

    @Option(names = "--onnx", required = true, paramLabel = "model.onnx", description = "The ONNX file.")
    Path onnx;

    @Option(names = "--attach", paramLabel = "contract.json",
            description = "A contract (JSON, as 'medfuse contract --onnx' prints it) to attach.")
    Path attach;

    @Option(names = "--out", paramLabel = "out.onnx", description = "Where --attach writes the model.")
    Path out;

    @Override
    public Integer call() {
        if (!Files.isRegularFile(onnx)) {
            throw new UserInputException("--onnx " + onnx + ": no such file");
        }
        if (attach == null) {
            if (out != null) {
                throw new UserInputException("--out is only used with --attach");
            }
            ModelContract c = OnnxModelFile.readContract(onnx);
            Map<String, String> meta = OnnxModelFile.readMetadata(OnnxModelFile.read(onnx));
            System.out.println(ModelContractJson.writePretty(c));
            System.err.println("# " + onnx + ": model '" + c.name() + "' " + c.version() + ", inputs '"
                    + c.imageInput() + "' [N," + c.image().channels() + "," + c.image().height() + ","
                    + c.image().width() + "] and '" + c.tabularInput() + "' [N," + c.tabularWidth() + "], output '"
                    + c.output() + "' " + c.labelNames() + (c.trained() ? "" : " (UNTRAINED)")
                    + (meta.containsKey("medfuse.architecture") ? ", architecture "
                    + meta.get("medfuse.architecture") : "") + ", sha256 "
                    + OnnxModelFile.sha256(OnnxModelFile.read(onnx)));
            System.err.println("# features and where the worker reads them (first present wins):");
            for (io.medfuse.model.contract.FeatureSpec f : c.tabular()) {
                System.err.println("#   " + f.name() + " (" + f.kind().name().toLowerCase(java.util.Locale.ROOT)
                        + ") <- " + String.join(", then ", f.sources().stream()
                        .map(io.medfuse.model.contract.FeatureSource::id).toList()));
            }
            return 0;
        }
        if (out == null) {
            throw new UserInputException("--attach needs --out (the ONNX file to write)");
        }
        if (!Files.isRegularFile(attach)) {
            throw new UserInputException("--attach " + attach + ": no such file");
        }
        ModelContract contract;
        try {
            contract = ModelContractJson.parse(Files.readString(attach)).validate();
        } catch (IOException e) {
            throw new UserInputException("cannot read " + attach + ": " + e.getMessage(), e);
        } catch (ModelContractException e) {
            throw new ModelContractException(attach + ": " + e.getMessage(), e);
        }
        byte[] result = OnnxModelFile.attachContract(OnnxModelFile.read(onnx), contract);
        // the worker's own start-up check: names, types and static sizes of the graph against the contract
        try (OnnxClassifier check = OnnxClassifier.load(result, out.toString(),
                new EngineOptions("cpu", 1, 1, "basic", List.of(1)))) {
            check.predict(new float[contract.image().tensorSize()], new float[contract.tabularWidth()], 1);
        }
        try {
            Path parent = out.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            Path tmp = out.resolveSibling(out.getFileName() + ".tmp");
            Files.write(tmp, result);
            Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UserInputException("cannot write " + out + ": " + e.getMessage(), e);
        }
        System.out.println("wrote " + out + " (contract '" + contract.name() + "' " + contract.version()
                + " attached and checked against the graph, sha256 " + OnnxModelFile.sha256(result) + ")");
        return 0;
    }
}
