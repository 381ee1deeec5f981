package io.medfuse.worker.it;

import io.medfuse.testkit.SharedBroker;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.StackTraceElementProxy;
import ch.qos.logback.core.AppenderBase;
import io.medfuse.events.ImagePayload;
import io.medfuse.events.ImagingRequest;
import io.medfuse.events.Patient;
import io.medfuse.testkit.EmbeddedKafka;
import io.medfuse.worker.MedfuseWorker;
import io.medfuse.testkit.InProcessSchemaRegistry;
import io.medfuse.testkit.SampleRequests;

/**
 * A full run (valid requests, imputed and unknown values, invalid ages, undecodable images) with distinctive
 * patient values; every log line of the JVM, worker code at DEBUG, is captured: none of the values appears, only
 * request ids identify requests.
 */
class NoPatientDataInLogsIT {

    static final EmbeddedKafka kafka = SharedBroker.kafka();
    static final InProcessSchemaRegistry registry = SharedBroker.registry();

    /** Keeps every event's formatted message and stack trace text. */
    static final class Capture extends AppenderBase<ILoggingEvent> {
        final List<String> lines = Collections.synchronizedList(new ArrayList<>());

        @Override
        protected void append(ILoggingEvent e) {
            StringBuilder b = new StringBuilder(e.getLoggerName()).append(' ').append(e.getFormattedMessage());
            for (IThrowableProxy t = e.getThrowableProxy(); t != null; t = t.getCause()) {
                b.append(" | ").append(t.getClassName()).append(": ").append(t.getMessage());
                for (StackTraceElementProxy s : t.getStackTraceElementProxyArray()) {
                    b.append(' ').append(s.getSTEAsString());
                }
            }
            e.getMDCPropertyMap().forEach((k, v) -> b.append(' ').append(k).append('=').append(v));
            lines.add(b.toString());
        }
    }

    @Test
    void logsNoAgeSexOrClinicalValueOfAnyRequest() throws Exception {
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        Logger medfuse = (Logger) LoggerFactory.getLogger("io.medfuse");
        Level before = medfuse.getLevel();
        Capture capture = new Capture();
        capture.start();
        root.addAppender(capture);
        medfuse.setLevel(Level.DEBUG);
        List<String> secrets = List.of("37.123", "52.987", "71.456", "312.777", "-4.321", "sx-qq-unusual",
                "site-zz-unusual", "note-xy-7731", "88.8812");
        List<String> ids = new ArrayList<>();
        try (StreamFixture f = new StreamFixture(kafka, registry, 2);
             MedfuseWorker worker = MedfuseWorker.start(f.workerConfig(Map.of()))) {
            assertThat(worker.awaitRunning(Duration.ofSeconds(60))).isTrue();
            f.startReading();
            SampleRequests samples = new SampleRequests(17, 64, "image/png");
            double[] ages = {37.123, 52.987, 71.456, 312.777, -4.321};
            for (int i = 0; i < 25; i++) {
                ImagingRequest r = samples.next("privacy");
                Map<String, Object> clinical = Map.of("localization", i % 2 == 0 ? "site-zz-unusual" : "scalp",
                        "note", "note-xy-7731", "pressure", 88.8812);
                ImagingRequest.Builder b = ImagingRequest.newBuilder(r).setClinical(clinical)
                        .setPatient(Patient.newBuilder().setAgeYears(ages[i % ages.length])
                                .setSex(i % 3 == 0 ? "sx-qq-unusual" : "female").build());
                if (i % 7 == 6) {
                    b.setImage(ImagePayload.newBuilder().setMediaType("image/png")
                            .setData(ByteBuffer.wrap("not a png".getBytes(java.nio.charset.StandardCharsets.UTF_8)))
                            .build());
                }
                ids.add(r.getRequestId());
                f.send(b.build());
            }
            f.flush();
            assertThat(StreamFixture.await(() -> f.answers() >= ids.size(), Duration.ofSeconds(90)))
                    .as("%d answers of %d", f.answers(), ids.size()).isTrue();
            assertThat(f.failed).isNotEmpty();
            assertThat(f.predicted).isNotEmpty();
        } finally {
            root.detachAppender(capture);
            medfuse.setLevel(before);
        }
        List<String> lines = new ArrayList<>(capture.lines);
        assertThat(lines).as("captured log lines").hasSizeGreaterThan(20);
        for (String secret : secrets) {
            assertThat(lines.stream().filter(l -> l.contains(secret)).toList())
                    .as("log lines containing the patient value %s", secret).isEmpty();
        }
        System.out.printf("NoPatientDataInLogsIT: %d log lines captured, none with a patient value%n", lines.size());
    }
}
