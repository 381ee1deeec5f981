package io.medfuse.model.contract;

import java.util.List;

/**
 * How request images become the model's image tensor: decoded, converted to {@code channels} (3 = RGB, 1 = gray),
 * resized to {@code width}×{@code height} with {@code resize}, scaled to [0,1], normalised per channel as
 * {@code (x - mean[c]) / std[c]}, laid out as {@code layout} (only NCHW is supported: ONNX Runtime pays 40–55 ms per
 * batch of 32 for a transpose inside the graph, see FACTS.md).
 *
 * @param width  tensor width in pixels, &gt; 0
 * @param height tensor height in pixels, &gt; 0
 * @param channels 1 or 3
 * @param layout always {@code "NCHW"}
 * @param resize {@code STRETCH} (ignore aspect ratio) or {@code CENTER_CROP} (scale the short side, crop the middle)
 * @param mean per-channel mean in [0,1] units, one value per channel
 * @param std per-channel standard deviation in [0,1] units, one value per channel, all &gt; 0
 * @param decoder the PNG/JPEG decoder the model was trained with: {@code imageio} or {@code opencv}; null (contracts
 *                written before it was recorded) means {@code imageio}. Both give the same samples (ADR 0015), so
 *                either serves a model trained with the other; a decoder this medfuse does not know is refused
 */
public record ImageSpec(int width, int height, int channels, String layout, ResizeMode resize,
                        List<Double> mean, List<Double> std, String decoder) {

    /** The decoders a contract may name. */
    public static final List<String> DECODERS = List.of("imageio", "opencv");

    /** As the canonical constructor, with no decoder recorded. */
    public ImageSpec(int width, int height, int channels, String layout, ResizeMode resize, List<Double> mean,
                     List<Double> std) {
        this(width, height, channels, layout, resize, mean, std, null);
    }

    /** This spec recording the decoder a model was trained with. */
    public ImageSpec withDecoder(String id) {
        return new ImageSpec(width, height, channels, layout, resize, mean, std, id);
    }

    /** How the decoded image is brought to the tensor size. */
    public enum ResizeMode { STRETCH, CENTER_CROP }

    public ImageSpec {
        mean = mean == null ? null : List.copyOf(mean);
        std = std == null ? null : List.copyOf(std);
    }

    /** Number of floats one image occupies in the tensor: channels × height × width. */
    public int tensorSize() {
        return channels * height * width;
    }

    void validate(List<String> problems) {
        if (width <= 0 || height <= 0) {
            problems.add("image.width and image.height must be > 0, got " + width + "x" + height);
        }
        if (channels != 1 && channels != 3) {
            problems.add("image.channels must be 1 or 3, got " + channels);
        }
        if (!"NCHW".equals(layout)) {
            problems.add("image.layout must be NCHW, got " + layout);
        }
        if (resize == null) {
            problems.add("image.resize is missing (STRETCH or CENTER_CROP)");
        }
        if (mean == null || mean.size() != channels) {
            problems.add("image.mean must have one value per channel (" + channels + "), got " + mean);
        }
        if (std == null || std.size() != channels) {
            problems.add("image.std must have one value per channel (" + channels + "), got " + std);
        } else if (std.stream().anyMatch(s -> s == null || !(s > 0))) {
            problems.add("image.std values must all be > 0, got " + std);
        }
        if (decoder != null && !DECODERS.contains(decoder)) {
            problems.add("image.decoder must be one of " + DECODERS + ", got '"
                    + (decoder.length() > 40 ? decoder.substring(0, 40) + "..." : decoder) + "'");
        }
    }
}
