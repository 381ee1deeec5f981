package io.medfuse.app;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import org.junit.jupiter.api.Test;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;

/**
 * The module boundaries of DESIGN.md, checked by the build: only the model module touches ONNX Runtime, only the
 * trainer touches DJL, the worker depends on neither the command line nor the test kit. The rules read the project's
 * own compiled classes (each module's {@code target/classes}), not the class path's 300 MB of jars.
 */
class ModuleBoundariesTest {

    static final java.util.List<String> MODULES = java.util.List.of("model", "events", "trainer", "worker",
            "testkit", "app", "benchmarks");

    private static final JavaClasses MEDFUSE = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPaths(MODULES.stream().map(m -> ConfigDocsTest.root().resolve(m).resolve("target/classes"))
                    .filter(java.nio.file.Files::isDirectory).toList());

    @Test
    void readsEveryModulesClasses() {
        for (String cls : java.util.List.of("io.medfuse.model.engine.OnnxClassifier", "io.medfuse.events.Prediction",
                "io.medfuse.trainer.TrainingRun", "io.medfuse.worker.MedfuseWorker", "io.medfuse.testkit.EmbeddedKafka",
                "io.medfuse.app.Medfuse")) {
            org.assertj.core.api.Assertions.assertThat(MEDFUSE.contain(cls)).as(cls).isTrue();
        }
    }

    @Test
    void onlyTheModelModuleImportsOnnxRuntime() {
        noClasses().that().resideOutsideOfPackage("io.medfuse.model..")
                .should().dependOnClassesThat().resideInAPackage("ai.onnxruntime..")
                .because("only the model module may touch ONNX Runtime (DESIGN.md)")
                .check(MEDFUSE);
    }

    @Test
    void onlyTheTrainerImportsDjl() {
        noClasses().that().resideOutsideOfPackage("io.medfuse.trainer..")
                .should().dependOnClassesThat().resideInAPackage("ai.djl..")
                .because("only the trainer may touch DJL; the worker's runtime carries no libtorch (DESIGN.md)")
                .allowEmptyShould(true)
                .check(MEDFUSE);
    }

    @Test
    void theWorkerDependsOnNeitherTheCommandLineNorTheTestKit() {
        noClasses().that().resideInAPackage("io.medfuse.worker..")
                .should().dependOnClassesThat().resideInAnyPackage("io.medfuse.app..", "io.medfuse.testkit..",
                        "org.apache.kafka.common.test..", "picocli..")
                .because("the worker's runtime (and its container image) carries neither the CLI, a broker nor the "
                        + "test kit's stand-ins")
                .check(MEDFUSE);
    }
}
