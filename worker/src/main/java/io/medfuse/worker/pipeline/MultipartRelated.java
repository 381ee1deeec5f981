package io.medfuse.worker.pipeline;

import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Optional;

/**
 * The first part of a {@code multipart/related} body (RFC 2387), as DICOMweb servers answer a WADO-RS instance
 * retrieval ({@code multipart/related; type="application/dicom"}, PS3.18 8.6). Only the first part is read: a
 * reference names one instance. Part headers are bounded; nothing is copied but the part's content.
 */
final class MultipartRelated {

    /** Longest header section of a part: DICOMweb parts carry two or three short headers. */
    static final int MAX_PART_HEADERS = 8 * 1024;

    private MultipartRelated() {
    }

    /** Whether a Content-Type names a multipart/related body. */
    static boolean is(String contentType) {
        return contentType != null && contentType.trim().toLowerCase(Locale.ROOT).startsWith("multipart/related");
    }

    /**
     * @return the first part's content, or empty when the body is not the multipart body its Content-Type says
     *         (no boundary parameter, no delimiter, headers too long, no closing delimiter)
     */
    static Optional<byte[]> firstPart(byte[] body, String contentType) {
        Optional<String> boundary = boundary(contentType);
        if (boundary.isEmpty()) {
            return Optional.empty();
        }
        byte[] delimiter = ("--" + boundary.get()).getBytes(StandardCharsets.US_ASCII);
        int start = indexOf(body, delimiter, 0);
        if (start < 0) {
            return Optional.empty();
        }
        int lineEnd = indexOf(body, new byte[] {'\r', '\n'}, start + delimiter.length);
        if (lineEnd < 0) {
            return Optional.empty();
        }
        int headersEnd = indexOf(body, new byte[] {'\r', '\n', '\r', '\n'}, lineEnd);
        int content;
        if (headersEnd < 0 || headersEnd - lineEnd > MAX_PART_HEADERS) {
            // a part may have no headers at all: its content starts right after the delimiter line's CRLF
            if (lineEnd + 4 <= body.length && body[lineEnd + 2] == '\r' && body[lineEnd + 3] == '\n') {
                content = lineEnd + 4;
            } else {
                return Optional.empty();
            }
        } else {
            content = headersEnd + 4;
        }
        byte[] next = new byte[delimiter.length + 2];
        next[0] = '\r';
        next[1] = '\n';
        System.arraycopy(delimiter, 0, next, 2, delimiter.length);
        int end = indexOf(body, next, content);
        if (end < 0) {
            return Optional.empty();
        }
        byte[] part = new byte[end - content];
        System.arraycopy(body, content, part, 0, part.length);
        return Optional.of(part);
    }

    static Optional<String> boundary(String contentType) {
        for (String param : contentType.split(";")) {
            String p = param.trim();
            if (p.toLowerCase(Locale.ROOT).startsWith("boundary=")) {
                String b = p.substring("boundary=".length()).trim();
                if (b.length() >= 2 && b.startsWith("\"") && b.endsWith("\"")) {
                    b = b.substring(1, b.length() - 1);
                }
                // RFC 2046: 1 to 70 characters
                return b.isEmpty() || b.length() > 70 ? Optional.empty() : Optional.of(b);
            }
        }
        return Optional.empty();
    }

    private static int indexOf(byte[] haystack, byte[] needle, int from) {
        outer:
        for (int i = Math.max(0, from); i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
