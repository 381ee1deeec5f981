# syntax=docker/dockerfile:1
# The medfuse worker on a JRE, CPU ONNX Runtime. No DJL/libtorch, no Kafka broker: only the worker's runtime
# dependencies (worker/target/lib, made by maven-dependency-plugin) and logback as the log binding.
#
#   ./mvnw -B -pl worker -am package -DskipTests
#   docker build -t medfuse/worker:0.1.0 .
#   docker run -v $PWD/worker.properties:/config/worker.properties:ro -p 9464:9464 medfuse/worker:0.1.0
FROM eclipse-temurin:17-jre-jammy

RUN groupadd --system --gid 10001 medfuse \
 && useradd --system --uid 10001 --gid medfuse --home-dir /app --no-create-home medfuse \
 && mkdir -p /var/lib/medfuse/state /config \
 && chown -R medfuse:medfuse /var/lib/medfuse

WORKDIR /app
COPY worker/target/lib/ /app/lib/
COPY worker/target/medfuse-worker-*.jar /app/medfuse-worker.jar
COPY docker/logback.xml /app/logback.xml
COPY docker/worker.properties /config/worker.properties

# the CPU image must not carry the GPU runtime, the trainer's DJL or a Kafka broker
RUN if ls /app/lib | grep -E '^(onnxruntime_gpu|djl|api-|pytorch|kafka_2|kafka-server)'; then \
      echo "unexpected jars in /app/lib (built with -Pgpu, or a broker/trainer dependency leaked in)"; exit 1; fi

ENV JAVA_TOOL_OPTIONS="-XX:MaxRAMPercentage=75 -Dorg.bytedeco.javacpp.cachedir=/tmp/javacpp -Dlogback.configurationFile=/app/logback.xml"
# /metrics, /health/live, /health/ready (metrics.port)
EXPOSE 9464
USER 10001
ENTRYPOINT ["java", "-cp", "/app/medfuse-worker.jar:/app/lib/*", "io.medfuse.worker.WorkerMain", "/config/worker.properties"]
