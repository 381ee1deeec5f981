package io.medfuse.worker.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

class MultipartRelatedTest {

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    @Test
    void readsTheFirstPartAsDicomWebServersWriteIt() {
        String type = "multipart/related; type=\"application/dicom\"; boundary=\"b1-x\"";
        byte[] body = bytes("preamble\r\n--b1-x\r\nContent-Type: application/dicom\r\nContent-Length: 5\r\n\r\n"
                + "DI\r\nM\r\n--b1-x\r\nContent-Type: application/dicom\r\n\r\nother\r\n--b1-x--\r\n");
        assertThat(MultipartRelated.is(type)).isTrue();
        assertThat(MultipartRelated.firstPart(body, type)).hasValueSatisfying(p ->
                assertThat(new String(p, StandardCharsets.ISO_8859_1)).isEqualTo("DI\r\nM"));
    }

    @Test
    void aBodyThatIsNotWhatItsContentTypeSaysIsEmpty() {
        assertThat(MultipartRelated.firstPart(bytes("--b\r\n\r\nno end"), "multipart/related; boundary=b")).isEmpty();
        assertThat(MultipartRelated.firstPart(bytes("--b\r\n\r\nx\r\n--b--"), "multipart/related")).isEmpty();
        assertThat(MultipartRelated.firstPart(bytes("nothing here"), "multipart/related; boundary=b")).isEmpty();
        assertThat(MultipartRelated.firstPart(bytes("--b\r\n" + "h".repeat(9000) + "\r\n\r\nx\r\n--b--"),
                "multipart/related; boundary=b")).as("part headers over the bound").isEmpty();
        assertThat(MultipartRelated.boundary("multipart/related; boundary=" + "x".repeat(71))).isEmpty();
        assertThat(MultipartRelated.is("application/dicom")).isFalse();
    }
}
