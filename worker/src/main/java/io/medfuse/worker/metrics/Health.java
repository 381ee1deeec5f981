package io.medfuse.worker.metrics;

/**
 * The answer of a health check.
 *
 * @param up true: HTTP 200; false: HTTP 503
 * @param reason why, in a few words (shown to operators in the JSON body), never null
 */
public record Health(boolean up, String reason) {

    public static Health up(String reason) {
        return new Health(true, reason);
    }

    public static Health down(String reason) {
        return new Health(false, reason);
    }

    /** {@code {"status":"UP","reason":"..."}}. */
    public String toJson() {
        return "{\"status\":\"" + (up ? "UP" : "DOWN") + "\",\"reason\":\"" + escape(reason) + "\"}";
    }

    private static String escape(String s) {
        StringBuilder b = new StringBuilder(s.length() + 8);
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.toString();
    }
}
