package io.medfuse.testkit;

/**
 * A schema registry process ({@link ApicurioRegistryProcess}) could not be started or did not become ready. The
 * message says what was tried and ends with the tail of the process's log when there is one.
 */
public class RegistryProcessException extends RuntimeException {

    public RegistryProcessException(String message) {
        super(message);
    }

    public RegistryProcessException(String message, Throwable cause) {
        super(message, cause);
    }
}
