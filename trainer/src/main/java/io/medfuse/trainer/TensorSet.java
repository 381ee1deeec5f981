package io.medfuse.trainer;

/**
 * Rows ready for the network, in plain Java arrays: images as the serving preprocessing wrote them (CHW, one after
 * another) and tabular rows as the serving encoder wrote them.
 *
 * @param images n · imageSize floats
 * @param tabular n · width floats
 * @param labels n class indices
 * @param imageSize floats per image (C·H·W)
 * @param width floats per tabular row
 */
public record TensorSet(float[] images, float[] tabular, int[] labels, int imageSize, int width) {

    public int size() {
        return labels.length;
    }

    /** Rows {@code from .. from+n-1}'s images, copied. */
    public float[] images(int from, int n) {
        return java.util.Arrays.copyOfRange(images, from * imageSize, (from + n) * imageSize);
    }

    /** Rows {@code from .. from+n-1}'s tabular values, copied. */
    public float[] tabular(int from, int n) {
        return java.util.Arrays.copyOfRange(tabular, from * width, (from + n) * width);
    }
}
