package io.medfuse.trainer.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.medfuse.trainer.data.DatasetException.Reason;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The one CSV reader of train, evaluate, compare and produce: what it accepts, and where it says a file is wrong. */
class CsvTableTest {

    @TempDir
    Path dir;

    private Path file(byte[] bytes) throws IOException {
        return Files.write(dir.resolve("metadata.csv"), bytes);
    }

    private Path file(String text) throws IOException {
        return file(text.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void readsQuotesEmbeddedNewlinesCrlfABomAndBlankLinesWithEachRowsFirstLine() throws IOException {
        CsvTable t = CsvTable.read(file("\uFEFFimage, label ,site\r\n"
                + "a.png,nv,\"lower extremity, left\"\r\n"
                + "\r\n"
                + "b.png,mel,\"two\nlines\"\r\n"
                + "c.png,\"say \"\"hi\"\"\",\n"));

        assertThat(t.header()).containsExactly("image", "label", "site");
        assertThat(t.rows()).containsExactly(List.of("a.png", "nv", "lower extremity, left"),
                List.of("b.png", "mel", "two\nlines"), List.of("c.png", "say \"hi\"", ""));
        assertThat(t.lines()).containsExactly(2, 4, 6);
        assertThat(t.column("site", "--categorical")).isEqualTo(2);
    }

    @Test
    void aRowWithTheWrongNumberOfFieldsNamesItsLine() throws IOException {
        Path csv = file("image,label\na.png,nv\n\"b\nc.png\",mel,extra\n");

        assertThatThrownBy(() -> CsvTable.read(csv)).isInstanceOfSatisfying(DatasetException.class, e -> {
            assertThat(e.reason()).isEqualTo(Reason.MALFORMED_CSV);
            assertThat(e.line()).isEqualTo(3);
            assertThat(e.getMessage()).contains("metadata.csv:3", "3 fields, but the header has 2");
        });
    }

    @Test
    void anUnclosedQuoteAndTextAfterAClosingQuoteAreErrorsWithALine() throws IOException {
        Path unclosed = file("image,label\na.png,nv\nb.png,\"mel\nc.png,nv\n");
        assertThatThrownBy(() -> CsvTable.read(unclosed)).isInstanceOfSatisfying(DatasetException.class, e -> {
            assertThat(e.getMessage()).contains("a quoted field is not closed");
            assertThat(e.line()).isGreaterThanOrEqualTo(3);
        });

        Path trailing = file("image,label\na.png,\"nv\"x\n");
        assertThatThrownBy(() -> CsvTable.read(trailing)).isInstanceOfSatisfying(DatasetException.class, e -> {
            assertThat(e.reason()).isEqualTo(Reason.MALFORMED_CSV);
            assertThat(e.getMessage()).contains("not valid CSV");
            assertThat(e.line()).isEqualTo(2);
        });
    }

    @Test
    void bytesThatAreNotUtf8AreRefusedNotReplaced() throws IOException {
        byte[] latin1 = "image,label,site\na.png,nv,R\u00e9union\n".getBytes(StandardCharsets.ISO_8859_1);

        assertThatThrownBy(() -> CsvTable.read(file(latin1))).isInstanceOfSatisfying(DatasetException.class,
                e -> assertThat(e.getMessage()).contains("is not UTF-8 text; save it as UTF-8"));
    }

    @Test
    void anEmptyFileAndAMissingColumnSayWhatIsExpected() throws IOException {
        assertThatThrownBy(() -> CsvTable.read(file("\n\n"))).hasMessageContaining("the first line must name the columns");
        CsvTable t = CsvTable.read(file("image,label\na.png,nv\n"));
        assertThatThrownBy(() -> t.column("age", "--numeric")).isInstanceOfSatisfying(DatasetException.class, e -> {
            assertThat(e.reason()).isEqualTo(Reason.MISSING_COLUMN);
            assertThat(e.getMessage()).contains("no such column (named by --numeric)", "[image, label]");
        });
    }
}
