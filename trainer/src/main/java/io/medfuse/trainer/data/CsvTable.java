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

/**
 * A CSV file with a header row, read per RFC 4180: comma separated, fields optionally double-quoted with
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
     * @throws DatasetException (MALFORMED_CSV) naming the file and line when it cannot be read, is empty, not UTF-8,
     *                          has an unclosed quote or a row whose field count differs from the header's
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

    private static void parse(Path file, String text, List<List<String>> records, List<Integer> starts) {
        int line = 1;
        int i = 0;
        int n = text.length();
        while (i < n) {
            int start = line;
            List<String> fields = new ArrayList<>();
            StringBuilder field = new StringBuilder();
            boolean quoted = false;
            boolean wasQuoted = false;
            boolean endOfRecord = false;
            while (i < n && !endOfRecord) {
                char c = text.charAt(i++);
                if (quoted) {
                    if (c == '"') {
                        if (i < n && text.charAt(i) == '"') {
                            field.append('"');
                            i++;
                        } else {
                            quoted = false;
                        }
                    } else {
                        if (c == '\n') {
                            line++;
                        }
                        field.append(c);
                    }
                } else if (c == '"' && field.length() == 0 && !wasQuoted) {
                    quoted = true;
                    wasQuoted = true;
                } else if (c == ',') {
                    fields.add(field.toString());
                    field.setLength(0);
                    wasQuoted = false;
                } else if (c == '\r' && i < n && text.charAt(i) == '\n') {
                    // CRLF: the LF ends the record
                } else if (c == '\n') {
                    line++;
                    endOfRecord = true;
                } else {
                    field.append(c);
                }
            }
            if (quoted) {
                throw new DatasetException(Reason.MALFORMED_CSV, file, start, null,
                        "a quoted field is not closed (a '\"' is missing)");
            }
            fields.add(field.toString());
            if (fields.size() == 1 && fields.get(0).isBlank() && !wasQuoted) {
                continue;
            }
            records.add(fields);
            starts.add(start);
        }
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
