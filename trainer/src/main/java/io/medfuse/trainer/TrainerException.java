package io.medfuse.trainer;

/**
 * Training cannot go on: the native engine is missing, the data cannot train a model, the output cannot be written.
 * The message says what is wrong and what would fix it; the command line prints it as one line.
 */
public class TrainerException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public TrainerException(String message) {
        super(message);
    }

    public TrainerException(String message, Throwable cause) {
        super(message, cause);
    }
}
