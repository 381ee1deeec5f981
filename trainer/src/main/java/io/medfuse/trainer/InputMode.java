package io.medfuse.trainer;

import java.util.Locale;

/** Which inputs the network sees: both (the product), or one of them (the ablations that show what each adds). */
public enum InputMode {
    /** image branch and tabular features, concatenated before the dense head */
    FUSED,
    /** image branch only: the tabular input is in the exported file but its weights are zero */
    IMAGE,
    /** tabular features only: the image input is in the exported file but its weights are zero */
    TABULAR;

    /** The command-line spelling: fused, image, tabular. */
    public String cli() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * @throws IllegalArgumentException naming the accepted values
     */
    public static InputMode parse(String text) {
        for (InputMode m : values()) {
            if (m.cli().equalsIgnoreCase(text == null ? "" : text.trim())) {
                return m;
            }
        }
        throw new IllegalArgumentException("--inputs must be fused, image or tabular, got '" + text + "'");
    }
}
