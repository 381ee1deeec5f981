package io.medfuse.app;

/** Bad command-line input: a missing file, a malformed CSV line. The message says where and what to fix. */
public class UserInputException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public UserInputException(String message) {
        super(message);
    }

    public UserInputException(String message, Throwable cause) {
        super(message, cause);
    }
}
