package io.medfuse.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;

/** 'medfuse demo' end to end: embedded broker, registry, worker, bundled model, printed table and summary. */
class DemoIT {

    @Test
    void demoAnswersEveryRequestAndEndsWithTheSummaryLine() {
        CliRun run = CliRun.of("demo", "--count", "25", "--rate", "0", "--malformed", "2");
        int exit = run.exit();
        String text = run.out();
        System.out.println(text);
        assertThat(exit).isZero();
        assertThat(text).contains("request", "expected", "predicted", "latency ms").doesNotContain("UNTRAINED");
        Matcher m = Pattern.compile("demo: (\\d+) requests, (\\d+) predictions, (\\d+) dead letters in [0-9.]+ s")
                .matcher(text);
        assertThat(m.find()).as("summary line in:%n%s", text).isTrue();
        assertThat(m.group(1)).isEqualTo("25");
        assertThat(m.group(2)).isEqualTo("23");
        assertThat(m.group(3)).isEqualTo("2");
        assertThat(text).contains("IMAGE_UNDECODABLE").contains("UNDESERIALIZABLE");
        Matcher truth = Pattern.compile("demo: (\\d+) of (\\d+) predictions match").matcher(text);
        assertThat(truth.find()).isTrue();
        // the bundled model was trained on the same generator: it must get nearly all of them right
        assertThat(Integer.parseInt(truth.group(1))).isGreaterThanOrEqualTo(20);
        // the influence is on in the demo: with the clinical data masked the same model is near chance
        Matcher influence = Pattern.compile("by (\\d\\.\\d+) on average \\(\\|shift\\|\\); with it masked, (\\d+) of "
                + "(\\d+) predictions would match the ground truth instead of (\\d+)").matcher(text);
        assertThat(influence.find()).as("influence line in:%n%s", text).isTrue();
        assertThat(Double.parseDouble(influence.group(1))).isGreaterThan(0.2);
        assertThat(Integer.parseInt(influence.group(2))).isLessThan(Integer.parseInt(influence.group(4)));
    }

    @Test
    void demoDicomSendsDicomObjectsWhoseTagsCarryTheClinicalData() {
        CliRun run = CliRun.of("demo", "--dicom", "--count", "12", "--rate", "0", "--malformed", "0");
        int exit = run.exit();
        String text = run.out();
        System.out.println(text);
        assertThat(exit).isZero();
        assertThat(text).contains("demo: 12 requests, 12 predictions, 0 dead letters")
                .contains("demo: 12 of 12 predictions read age and sex from the DICOM tags");
        Matcher truth = Pattern.compile("demo: (\\d+) of (\\d+) predictions match").matcher(text);
        assertThat(truth.find()).isTrue();
        // the label depends on age > 50: right answers mean the age from PatientAge reached the model
        assertThat(Integer.parseInt(truth.group(1))).isGreaterThanOrEqualTo(10);
    }

    @Test
    void demoSwapChangesTheModelHalfwayWithoutARestartOrALostAnswer() {
        CliRun run = CliRun.of("demo", "--swap", "--count", "30", "--rate", "5", "--malformed", "0");
        int exit = run.exit();
        String text = run.out();
        System.out.println(text);
        assertThat(exit).isZero();
        assertThat(text).contains("demo: 30 requests, 30 predictions, 0 dead letters")
                .contains("-- announced model medfuse-demo " + DemoCommand.SWAP_VERSION);
        Matcher m = Pattern.compile("answers by model version: \\{1\\.0\\.0-synth=(\\d+), 1\\.0\\.1-demo=(\\d+)\\}")
                .matcher(text);
        assertThat(m.find()).as("versions line in:%n%s", text).isTrue();
        int before = Integer.parseInt(m.group(1));
        int after = Integer.parseInt(m.group(2));
        assertThat(before + after).isEqualTo(30);
        assertThat(before).as("the first half is published before the announcement").isGreaterThanOrEqualTo(15);
        assertThat(after).as("the second model answers the rest after its warm-up").isPositive();
    }
}
