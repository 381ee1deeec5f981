package io.medfuse.app;

import java.net.URI;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

import io.medfuse.events.registry.RegistrySettings;
import io.medfuse.events.registry.RestSchemaRegistryClient;
import io.medfuse.events.registry.SchemaRegistryClient;
import picocli.CommandLine.Option;

/** The options of every command that talks to an existing cluster and registry (a picocli mixin). */
final class ClusterOptions {

    @Option(names = "--bootstrap", required = true, paramLabel = "HOST:PORT", description = "Kafka bootstrap servers.")
    String bootstrap;

    @Option(names = "--registry", required = true, paramLabel = "URL", description = "Schema registry URL.")
    String registryUrl;

    @Option(names = "--registry-user-info", paramLabel = "USER:PASSWORD", description = "Registry basic auth.")
    String registryUserInfo;

    @Option(names = "--kafka", paramLabel = "KEY=VALUE",
            description = "Extra Kafka client setting, e.g. security.protocol=SASL_SSL (repeatable).")
    Map<String, String> kafka = new LinkedHashMap<>();

    /** A registry client for --registry, with basic auth when --registry-user-info is given. */
    SchemaRegistryClient registry() {
        String user = null;
        String password = null;
        if (registryUserInfo != null) {
            int colon = registryUserInfo.indexOf(':');
            if (colon < 0) {
                throw new UserInputException("--registry-user-info must be USER:PASSWORD");
            }
            user = registryUserInfo.substring(0, colon);
            password = registryUserInfo.substring(colon + 1);
        }
        try {
            return new RestSchemaRegistryClient(new RegistrySettings(URI.create(registryUrl), user, password,
                    Duration.ofSeconds(10)));
        } catch (IllegalArgumentException e) {
            throw new UserInputException("--registry " + registryUrl + ": " + e.getMessage(), e);
        }
    }

    /** The --kafka settings, for the clients. */
    Map<String, Object> clientOverrides() {
        return new LinkedHashMap<>(kafka);
    }
}
