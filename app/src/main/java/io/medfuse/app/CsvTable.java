package io.medfuse.app;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A CSV file with a header row (RFC 4180: commas, double-quoted fields with "" escapes, CRLF or LF). Errors name
 * the file and line.
 *
 * @param header column names
 * @param rows data rows, each as long as the header
 * @param lines the file line each row starts on (1-based)
 */
record CsvTable(Path file, List<String> header, List<List<String>> rows, List<Integer> lines) {

    static CsvTable read(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new UserInputException(file + ": no such file");
        }
        List<List<String>> records = new ArrayList<>();
        List<Integer> lines = new ArrayList<>();
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            int line = 0;
            String text;
            while ((text = r.readLine()) != null) {
                line++;
                int start = line;
                List<String> fields = new ArrayList<>();
                StringBuilder field = new StringBuilder();
                boolean quoted = false;
                int i = 0;
                while (true) {
                    if (i >= text.length()) {
                        if (quoted) {
                            String next = r.readLine();
                            if (next == null) {
                                throw new UserInputException(file + ":" + start + ": a quoted field is not closed");
                            }
                            line++;
                            field.append('\n');
                            text = next;
                            i = 0;
                            continue;
                        }
                        fields.add(field.toString());
                        break;
                    }
                    char c = text.charAt(i++);
                    if (quoted) {
                        if (c == '"') {
                            if (i < text.length() && text.charAt(i) == '"') {
                                field.append('"');
                                i++;
                            } else {
                                quoted = false;
                            }
                        } else {
                            field.append(c);
                        }
                    } else if (c == '"' && field.length() == 0) {
                        quoted = true;
                    } else if (c == ',') {
                        fields.add(field.toString());
                        field.setLength(0);
                    } else {
                        field.append(c);
                    }
                }
                if (records.isEmpty() && lines.isEmpty() && !fields.isEmpty() && !fields.get(0).isEmpty()
                        && fields.get(0).charAt(0) == '\uFEFF') {
                    fields.set(0, fields.get(0).substring(1));
                }
                if (fields.size() == 1 && fields.get(0).isBlank()) {
                    continue;
                }
                records.add(fields);
                lines.add(start);
            }
        } catch (IOException e) {
            throw new UserInputException(file + ": cannot read: " + e.getMessage(), e);
        }
        if (records.isEmpty()) {
            throw new UserInputException(file + ": empty file; the first line must name the columns");
        }
        List<String> header = records.get(0).stream().map(String::trim).toList();
        List<List<String>> rows = new ArrayList<>(records.subList(1, records.size()));
        List<Integer> rowLines = new ArrayList<>(lines.subList(1, lines.size()));
        for (int i = 0; i < rows.size(); i++) {
            if (rows.get(i).size() != header.size()) {
                throw new UserInputException(file + ":" + rowLines.get(i) + ": " + rows.get(i).size()
                        + " fields, but the header has " + header.size());
            }
        }
        return new CsvTable(file, header, rows, rowLines);
    }

    /** The index of a column. */
    int column(String name, String option) {
        int i = header.indexOf(name);
        if (i < 0) {
            throw new UserInputException(file + ":1: no column '" + name + "' (" + option + "); the columns are "
                    + header);
        }
        return i;
    }
}
