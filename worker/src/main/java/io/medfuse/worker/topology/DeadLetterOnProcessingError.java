package io.medfuse.worker.topology;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.streams.errors.ErrorHandlerContext;
import org.apache.kafka.streams.errors.ProcessingExceptionHandler;
import org.apache.kafka.streams.processor.api.Record;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.medfuse.events.FailureReason;

/**
 * Kafka Streams' processing exception handler ({@code processing.exception.handler}): a record the worker failed on
 * before taking it ({@link RequestProcessingException}, a bug) is answered with an INTERNAL_ERROR dead letter, in
 * the task's transaction, and processing goes on; anything else fails the stream thread as Kafka Streams does by
 * default. The dead letter is built by the topology's {@link Answers}, found in the configuration under
 * {@value Answers#CONFIG_KEY}.
 */
public final class DeadLetterOnProcessingError implements ProcessingExceptionHandler {

    private static final Logger LOG = LoggerFactory.getLogger(DeadLetterOnProcessingError.class);

    private Answers answers;

    @Override
    public void configure(Map<String, ?> configs) {
        this.answers = Answers.from(configs);
    }

    @Override
    public Response handleError(ErrorHandlerContext context, Record<?, ?> record, Exception exception) {
        if (!(exception instanceof RequestProcessingException failure) || context.offset() < 0) {
            return Response.fail();
        }
        LOG.warn("the record at {}-{}@{} failed in the worker; answering it with an INTERNAL_ERROR dead letter",
                context.topic(), context.partition(), context.offset(), exception.getCause());
        Answers.Serialized dead = answers.deadLetter(failure.requestId(), context.topic(), context.partition(),
                context.offset(), FailureReason.INTERNAL_ERROR, failure.getMessage() + "; see the worker's log",
                context.sourceRawValue());
        byte[] key = failure.requestId() == null ? null : failure.requestId().getBytes(StandardCharsets.UTF_8);
        return Response.resume(List.of(new ProducerRecord<>(dead.topic(), null, null, key, dead.value(),
                Answers.sourceHeaders(context.topic(), context.partition(), context.offset()))));
    }
}
