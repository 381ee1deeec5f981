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
 */
public record ImageSpec(int width, int height, int channels, String layout, ResizeMode resize,
                        List<Double> mean, List<Double> std) {

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
    }
}
