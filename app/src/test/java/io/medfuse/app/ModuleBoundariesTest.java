package io.medfuse.app;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import org.junit.jupiter.api.Test;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;

/**
 * The module boundaries of DESIGN.md, checked by the build: only the model module touches ONNX Runtime, only the
 * trainer touches DJL. The app module sees every module's classes, so the rules are checked here.
 */
class ModuleBoundariesTest {

    private static final JavaClasses MEDFUSE = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("io.medfuse");

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
    void theWorkerDoesNotDependOnTheCommandLineOrTheEmbeddedBroker() {
        noClasses().that().resideInAPackage("io.medfuse.worker..")
                .should().dependOnClassesThat().resideInAnyPackage("io.medfuse.app..", "io.medfuse.kafka..",
                        "org.apache.kafka.common.test..", "picocli..")
                .because("the worker's runtime (and its container image) carries neither the CLI nor a broker")
                .check(MEDFUSE);
    }
}
