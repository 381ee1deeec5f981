package io.medfuse.worker.topology;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.streams.errors.ErrorHandlerContext;
import org.apache.kafka.streams.errors.ProductionExceptionHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.medfuse.events.FailureReason;

/**
 * Kafka Streams' production exception handler ({@code production.exception.handler}): a Prediction the producer
 * refuses as too large becomes an ANSWER_TOO_LARGE dead letter for its request (found through the answer's
 * {@value Answers#SOURCE_HEADER} header), so the request still gets its one answer. The processor already checks
 * answer sizes against the topics' limits read at start-up; this is the route for a limit that changed since.
 * Every other failure fails the stream thread, as by default.
 */
public final class DeadLetterOnProductionError implements ProductionExceptionHandler {

    private static final Logger LOG = LoggerFactory.getLogger(DeadLetterOnProductionError.class);

    private Answers answers;

    @Override
    public void configure(Map<String, ?> configs) {
        this.answers = Answers.from(configs);
    }

    @Override
    public Response handleError(ErrorHandlerContext context, ProducerRecord<byte[], byte[]> record,
                                Exception exception) {
        if (!(exception instanceof RecordTooLargeException)
                || !record.topic().equals(answers.settings().predictionsTopic())) {
            return Response.fail();
        }
        Header source = record.headers().lastHeader(Answers.SOURCE_HEADER);
        String[] where = source == null ? new String[0]
                : new String(source.value(), StandardCharsets.UTF_8).split("/");
        if (where.length < 3) {
            return Response.fail();
        }
        String topic = String.join("/", java.util.Arrays.copyOf(where, where.length - 2));
        int partition = Integer.parseInt(where[where.length - 2]);
        long offset = Long.parseLong(where[where.length - 1]);
        String requestId = record.key() == null ? null : new String(record.key(), StandardCharsets.UTF_8);
        LOG.warn("the prediction for the request at {}-{}@{} is too large for {} ({} bytes); answering with a "
                + "dead letter", topic, partition, offset, record.topic(), record.value().length);
        Answers.Serialized dead = answers.deadLetter(requestId, topic, partition, offset,
                FailureReason.ANSWER_TOO_LARGE, "the prediction has " + record.value().length + " bytes, more than "
                        + record.topic() + " takes (" + exception.getMessage() + "); raise its max.message.bytes",
                null);
        return Response.resume(List.of(new ProducerRecord<>(dead.topic(), null, null, record.key(), dead.value(),
                Answers.sourceHeaders(topic, partition, offset))));
    }
}
