package io.medfuse.app.bench;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

import io.medfuse.worker.topology.TopologyFactory;

/**
 * The bus limit: request bytes in, the same bytes out, no model. With {@code pendingStore} each record also gets the
 * worker's own pending-requests entry (the changelogged store of ADR 0001: since issue 13 its offset and timestamp,
 * not its bytes), deleted after it is forwarded, so the difference between the two variants is what the store
 * costs.
 */
final class PassThroughTopology {

    static final String STORE = "bench-pending";

    private PassThroughTopology() {
    }

    static Topology build(String in, String out, boolean pendingStore) {
        Topology t = new Topology();
        t.addSource("bench-source", Serdes.ByteArray().deserializer(), Serdes.ByteArray().deserializer(), in);
        t.addProcessor("bench-pass", () -> new Pass(pendingStore), "bench-source");
        if (pendingStore) {
            t.addStateStore(TopologyFactory.pendingStore(STORE), "bench-pass");
        }
        t.addSink("bench-sink", out, Serdes.ByteArray().serializer(), Serdes.ByteArray().serializer(),
                "bench-pass");
        return t;
    }

    private static final class Pass implements Processor<byte[], byte[], byte[], byte[]> {
        private final boolean useStore;
        private ProcessorContext<byte[], byte[]> context;
        private KeyValueStore<Long, byte[]> store;

        Pass(boolean useStore) {
            this.useStore = useStore;
        }

        @Override
        public void init(ProcessorContext<byte[], byte[]> ctx) {
            this.context = ctx;
            if (useStore) {
                this.store = ctx.getStateStore(STORE);
            }
        }

        @Override
        public void process(Record<byte[], byte[]> record) {
            if (!useStore) {
                context.forward(record);
                return;
            }
            long offset = context.recordMetadata().orElseThrow().offset();
            store.put(offset, TopologyFactory.pendingEntry(record.timestamp()));
            context.forward(record);
            store.delete(offset);
        }
    }
}
