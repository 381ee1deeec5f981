package io.medfuse.trainer.data;

import java.nio.file.Path;

/**
 * A dataset (images folder + CSV) cannot be used as given. The message starts with {@code file:line} and names the
 * column, so the user can go straight to the cell; the parts are also available for tests and reports.
 */
public class DatasetException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final transient Path file;
    private final int line;
    private final String column;
    private final Reason reason;

    /** What is wrong; rows excluded with {@code --allow-exclusions} are counted by these. */
    public enum Reason {
        /** the CSV cannot be read or parsed (unclosed quote, wrong field count, empty) */
        MALFORMED_CSV,
        /** a column named by an option is not in the header */
        MISSING_COLUMN,
        /** the label cell is empty */
        MISSING_LABEL,
        /** the label is not in the given label list */
        UNKNOWN_LABEL,
        /** the image cell names no existing file */
        MISSING_IMAGE,
        /** the image file cannot be decoded by the serving preprocessing */
        UNREADABLE_IMAGE,
        /** a numeric column holds text that is not a number */
        NON_NUMERIC,
        /** a numeric value outside its valid range (age outside 0..120) */
        OUT_OF_RANGE,
        /** the data as a whole cannot train a model (too few rows, one class) */
        UNUSABLE
    }

    /**
     * @param file the CSV (or image) file
     * @param line 1-based CSV line, or 0 when not about one line
     * @param column column name, or null
     */
    public DatasetException(Reason reason, Path file, int line, String column, String detail) {
        this(reason, file, line, column, detail, null);
    }

    public DatasetException(Reason reason, Path file, int line, String column, String detail, Throwable cause) {
        super(file + (line > 0 ? ":" + line : "") + (column == null ? "" : ": column '" + column + "'") + ": "
                + detail, cause);
        this.reason = reason;
        this.file = file;
        this.line = line;
        this.column = column;
    }

    public Reason reason() {
        return reason;
    }

    public Path file() {
        return file;
    }

    /** 1-based line in the CSV, 0 when the problem is not about one line. */
    public int line() {
        return line;
    }

    /** The column involved, or null. */
    public String column() {
        return column;
    }
}
