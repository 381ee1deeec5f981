package io.medfuse.testkit;

/**
 * One embedded broker and one in-process registry for every integration test in the JVM: started on first use,
 * closed when the JVM exits. Tests stay apart through unique topics and application ids ({@link StreamFixture}),
 * and a broker start (2.5–8 s) is paid once instead of once per test class. For tests only.
 */
public final class SharedBroker {

    private static EmbeddedKafka kafka;
    private static InProcessSchemaRegistry registry;

    private SharedBroker() {
    }

    public static synchronized EmbeddedKafka kafka() {
        start();
        return kafka;
    }

    public static synchronized InProcessSchemaRegistry registry() {
        start();
        return registry;
    }

    private static void start() {
        if (kafka != null) {
            return;
        }
        kafka = EmbeddedKafka.start();
        registry = InProcessSchemaRegistry.start(0);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            registry.close();
            kafka.close();
        }, "shared-broker-shutdown"));
    }
}
