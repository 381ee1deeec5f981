package io.medfuse.trainer;

/** Classification metrics on probabilities. */
public final class Metrics {

    private Metrics() {
    }

    /** argmax of a row (first on ties). */
    public static int argmax(float[] row) {
        int best = 0;
        for (int i = 1; i < row.length; i++) {
            if (row[i] > row[best]) {
                best = i;
            }
        }
        return best;
    }

    /** Share of rows whose argmax is the label; NaN for no rows. */
    public static double accuracy(float[][] probabilities, int[] labels) {
        if (labels.length == 0) {
            return Double.NaN;
        }
        int right = 0;
        for (int i = 0; i < labels.length; i++) {
            if (argmax(probabilities[i]) == labels[i]) {
                right++;
            }
        }
        return (double) right / labels.length;
    }

    /** Mean recall over the classes that occur in {@code labels}; NaN for no rows. */
    public static double balancedAccuracy(float[][] probabilities, int[] labels, int classes) {
        int[] total = new int[classes];
        int[] right = new int[classes];
        for (int i = 0; i < labels.length; i++) {
            total[labels[i]]++;
            if (argmax(probabilities[i]) == labels[i]) {
                right[labels[i]]++;
            }
        }
        double sum = 0;
        int present = 0;
        for (int c = 0; c < classes; c++) {
            if (total[c] > 0) {
                sum += (double) right[c] / total[c];
                present++;
            }
        }
        return present == 0 ? Double.NaN : sum / present;
    }
}
