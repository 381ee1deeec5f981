package io.medfuse.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.medfuse.model.contract.ModelContract;
import io.medfuse.model.contract.ModelContractJson;
import io.medfuse.model.contract.FeatureSpec;
import io.medfuse.model.onnx.FusedCnnFactory;
import io.medfuse.model.onnx.OnnxModelFile;

/** 'medfuse contract': show, and attach to a file made elsewhere only when the graph matches. */
class ContractCommandTest {

    private record Run(int exit, String out, String err) {
    }

    private static Run run(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
        try {
            return new Run(Medfuse.run(args), o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    @Test
    void showsAndAttaches(@TempDir Path dir) throws Exception {
        ModelContract c = OnnxModelFile.readContract(io.medfuse.worker.MedfuseWorker.bundledModel(), "bundled");
        // "made elsewhere": the same graph without any contract
        byte[] bare = OnnxModelFile.withMetadata(FusedCnnFactory.small(c, 1), Map.of(ModelContract.METADATA_KEY,
                "{}"));
        Path foreign = dir.resolve("foreign.onnx");
        Files.write(foreign, bare);
        assertThat(run("contract", "--onnx", foreign.toString()).exit()).isEqualTo(2);

        ModelContract renamed = new ModelContract(c.contractVersion(), "keras-export", "7", c.description(),
                c.imageInput(), c.tabularInput(), c.output(), c.outputKind(), c.image(), c.tabular(), c.labels(),
                c.preprocessingVersion(), true, Map.of("source", "keras"));
        Path json = dir.resolve("contract.json");
        Files.writeString(json, ModelContractJson.writePretty(renamed));
        Path servable = dir.resolve("servable.onnx");
        Run attached = run("contract", "--onnx", foreign.toString(), "--attach", json.toString(), "--out",
                servable.toString());
        assertThat(attached.exit()).as(attached.err()).isEqualTo(0);
        assertThat(OnnxModelFile.readContract(servable).name()).isEqualTo("keras-export");

        Run shown = run("contract", "--onnx", servable.toString());
        assertThat(shown.exit()).isEqualTo(0);
        assertThat(shown.out()).contains("keras-export");
        assertThat(shown.err()).contains("'image'", "'tabular'");

        // a contract whose tabular width the graph does not take is refused, and nothing is written
        List<FeatureSpec> fewer = c.tabular().subList(0, 1);
        ModelContract wrong = new ModelContract(c.contractVersion(), "wrong", "1", c.description(), c.imageInput(),
                c.tabularInput(), c.output(), c.outputKind(), c.image(), fewer, c.labels(), c.preprocessingVersion(),
                true, Map.of());
        Files.writeString(json, ModelContractJson.writePretty(wrong));
        Path refused = dir.resolve("refused.onnx");
        Run bad = run("contract", "--onnx", foreign.toString(), "--attach", json.toString(), "--out",
                refused.toString());
        assertThat(bad.exit()).isEqualTo(2);
        assertThat(bad.err()).contains("does not match its contract");
        assertThat(refused).doesNotExist();
    }

    @Test
    void newCommandsHaveHelp() {
        assertThat(run("compare", "--help").out()).contains("--seeds", "--folds", "--architecture");
        assertThat(run("evaluate", "--help").out()).contains("--model", "--training");
        assertThat(run("contract", "--help").out()).contains("--attach");
    }
}
