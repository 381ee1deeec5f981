package io.medfuse.trainer.data;

import io.medfuse.trainer.data.DatasetException.Reason;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVParser;
import org.apache.commons.csv.CSVRecord;

/**
 * A CSV file with a header row, read by Apache Commons CSV per RFC 4180 (the one CSV reader of {@code train},
 * {@code evaluate}, {@code compare} and {@code produce}): comma separated, fields optionally double-quoted with
 * {@code ""} escaping a quote, quoted fields may span lines, CRLF or LF line ends, a UTF-8 byte-order mark is
 * skipped, blank lines are ignored. Header names are trimmed.
 *
 * @param file where it was read from, for messages
 * @param bytes the file's exact bytes (the dataset fingerprint hashes them)
 * @param header column names
 * @param rows data rows, each exactly as long as the header
 * @param lines the 1-based line each row starts on
 */
public record CsvTable(Path file, byte[] bytes, List<String> header, List<List<String>> rows, List<Integer> lines) {

    public CsvTable {
        header = List.copyOf(header);
        rows = List.copyOf(rows);
        lines = List.copyOf(lines);
    }

    /**
     * @throws DatasetException (MALFORMED_CSV) naming the file and line when it cannot be read, is empty, not UTF-8
     *                          (a byte that is not UTF-8 is an error, never replaced), has an unclosed quote, text
     *                          after a closing quote, or a row whose field count differs from the header's
     */
    public static CsvTable read(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new DatasetException(Reason.MALFORMED_CSV, file, 0, null, "cannot read the metadata CSV: " + e, e);
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new DatasetException(Reason.MALFORMED_CSV, file, 0, null, "is not UTF-8 text; save it as UTF-8", e);
        }
        if (!text.isEmpty() && text.charAt(0) == '\uFEFF') {
            text = text.substring(1);
        }
        List<List<String>> records = new ArrayList<>();
        List<Integer> starts = new ArrayList<>();
        parse(file, text, records, starts);
        if (records.isEmpty()) {
            throw new DatasetException(Reason.MALFORMED_CSV, file, 1, null,
                    "the file is empty; the first line must name the columns");
        }
        List<String> header = records.get(0).stream().map(String::trim).toList();
        List<List<String>> rows = records.subList(1, records.size());
        List<Integer> lines = starts.subList(1, starts.size());
        for (int i = 0; i < rows.size(); i++) {
            if (rows.get(i).size() != header.size()) {
                throw new DatasetException(Reason.MALFORMED_CSV, file, lines.get(i), null, rows.get(i).size()
                        + " fields, but the header has " + header.size() + " (quote fields that contain commas)");
            }
        }
        return new CsvTable(file, bytes, header, rows, lines);
    }

    /** Apache Commons CSV, RFC 4180 with blank lines skipped; each record's first line found from its offset. */
    private static void parse(Path file, String text, List<List<String>> records, List<Integer> starts) {
        int[] lineStarts = lineStarts(text);
        CSVFormat format = CSVFormat.RFC4180.builder().setIgnoreEmptyLines(true).get();
        try (CSVParser parser = CSVParser.parse(text, format)) {
            java.util.Iterator<CSVRecord> it = parser.iterator();
            long consumed = 0; // lines read up to the end of the last good record
            while (true) {
                CSVRecord record;
                try {
                    if (!it.hasNext()) {
                        break;
                    }
                    record = it.next();
                } catch (java.io.UncheckedIOException | IllegalStateException e) {
                    int at = firstNonBlankLine(text, lineStarts, (int) Math.min(consumed + 1, Integer.MAX_VALUE));
                    String why = e.getMessage() != null && e.getMessage().contains("EOF reached before encapsulated")
                            ? "a quoted field is not closed (a '\"' is missing)"
                            : "not valid CSV (RFC 4180): a quote must open and close a whole field, and \"\" stands "
                            + "for a quote inside one";
                    throw new DatasetException(Reason.MALFORMED_CSV, file, at, null, why, e);
                }
                consumed = parser.getCurrentLineNumber();
                List<String> fields = record.toList();
                if (fields.size() == 1 && fields.get(0).isBlank()) {
                    continue;
                }
                records.add(fields);
                starts.add(lineOf(lineStarts, skipLineEnds(text, record.getCharacterPosition())));
            }
        } catch (IOException e) {
            throw new DatasetException(Reason.MALFORMED_CSV, file, 0, null, "cannot parse the metadata CSV: "
                    + e.getMessage(), e);
        }
    }

    private static int[] lineStarts(String text) {
        List<Integer> starts = new ArrayList<>();
        starts.add(0);
        for (int i = 0; i < text.length(); i++) {
            if (text.charAt(i) == '\n') {
                starts.add(i + 1);
            }
        }
        return starts.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The record's position can be that of blank lines skipped before it: its first character is after them. */
    private static long skipLineEnds(String text, long position) {
        int i = (int) position;
        while (i < text.length() && (text.charAt(i) == '\r' || text.charAt(i) == '\n')) {
            i++;
        }
        return i;
    }

    /** The first line at or after {@code line} (1-based) that is not empty: where the next record starts. */
    private static int firstNonBlankLine(String text, int[] lineStarts, int line) {
        int l = Math.max(1, line);
        while (l <= lineStarts.length) {
            int at = lineStarts[l - 1];
            if (at < text.length() && text.charAt(at) != '\r' && text.charAt(at) != '\n') {
                return l;
            }
            l++;
        }
        return Math.min(Math.max(1, line), lineStarts.length);
    }

    /** The 1-based line holding character {@code position}. */
    private static int lineOf(int[] lineStarts, long position) {
        int i = java.util.Arrays.binarySearch(lineStarts, (int) position);
        return (i >= 0 ? i : -i - 2) + 1;
    }

    /**
     * The index of a column.
     *
     * @param option the command-line option that named it, for the message
     * @throws DatasetException (MISSING_COLUMN) at line 1 naming the column and listing the header
     */
    public int column(String name, String option) {
        int i = header.indexOf(name);
        if (i < 0) {
            throw new DatasetException(Reason.MISSING_COLUMN, file, 1, name, "no such column (named by " + option
                    + "); the header has " + header);
        }
        return i;
    }
}
