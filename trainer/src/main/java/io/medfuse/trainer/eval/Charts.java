package io.medfuse.trainer.eval;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import javax.imageio.ImageIO;

/** PNG charts drawn with java.awt (headless): confusion matrix, ROC curves, reliability diagram, training curves. */
public final class Charts {

    static {
        System.setProperty("java.awt.headless", "true");
    }

    private static final int W = 560;
    private static final int H = 440;
    private static final int LEFT = 70;
    private static final int RIGHT = 150;
    private static final int TOP = 40;
    private static final int BOTTOM = 60;
    private static final Color[] PALETTE = {
        new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c), new Color(0xd62728), new Color(0x9467bd),
        new Color(0x8c564b), new Color(0xe377c2), new Color(0x7f7f7f), new Color(0xbcbd22), new Color(0x17becf)};

    private Charts() {
    }

    /** Rows = true class, columns = predicted; cells shaded by the share of their row, with counts. */
    public static byte[] confusion(int[][] m, List<String> labels) {
        int k = labels.size();
        int cell = Math.max(28, Math.min(60, 420 / Math.max(1, k)));
        int left = 110;
        int top = 70;
        BufferedImage img = canvas(Math.max(440, left + cell * k + 30), top + cell * k + 40);
        Graphics2D g = graphics(img);
        title(g, "Confusion matrix (rows: true, columns: predicted)", 10, 22);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        for (int t = 0; t < k; t++) {
            int total = 0;
            for (int p = 0; p < k; p++) {
                total += m[t][p];
            }
            g.setColor(Color.BLACK);
            g.drawString(labels.get(t), 8, top + t * cell + cell / 2 + 4);
            for (int p = 0; p < k; p++) {
                double share = total == 0 ? 0 : (double) m[t][p] / total;
                int shade = (int) Math.round(255 - 200 * share);
                g.setColor(new Color(shade, shade, 255));
                g.fillRect(left + p * cell, top + t * cell, cell, cell);
                g.setColor(Color.GRAY);
                g.drawRect(left + p * cell, top + t * cell, cell, cell);
                g.setColor(share > 0.6 ? Color.WHITE : Color.BLACK);
                g.drawString(Integer.toString(m[t][p]), left + p * cell + 4, top + t * cell + cell / 2 + 4);
            }
        }
        g.setColor(Color.BLACK);
        for (int p = 0; p < k; p++) {
            g.drawString(labels.get(p), left + p * cell + 2, top - 8);
        }
        g.dispose();
        return png(img);
    }

    /** One-vs-rest ROC curve per class, with its AUC in the legend. */
    public static byte[] roc(float[][] probabilities, int[] truth, List<String> labels) {
        BufferedImage img = canvas(W, H);
        Graphics2D g = graphics(img);
        title(g, "ROC curves (one vs rest)", LEFT, 22);
        axes(g, "false positive rate", "true positive rate", 0, 1, 0, 1);
        g.setColor(Color.LIGHT_GRAY);
        line(g, 0, 0, 1, 1, 0, 1, 0, 1);
        for (int c = 0; c < labels.size(); c++) {
            List<double[]> pts = ClassificationMetrics.rocCurve(probabilities, truth, c);
            if (pts.isEmpty()) {
                continue;
            }
            g.setColor(PALETTE[c % PALETTE.length]);
            g.setStroke(new BasicStroke(2f));
            for (int i = 1; i < pts.size(); i++) {
                line(g, pts.get(i - 1)[0], pts.get(i - 1)[1], pts.get(i)[0], pts.get(i)[1], 0, 1, 0, 1);
            }
            legend(g, c, String.format(Locale.ROOT, "%s %.3f", labels.get(c),
                    ClassificationMetrics.auc(probabilities, truth, c)));
        }
        g.dispose();
        return png(img);
    }

    /** Accuracy against mean confidence per non-empty bin (bars), the diagonal, and the ECE. */
    public static byte[] reliability(ClassificationMetrics m) {
        BufferedImage img = canvas(W, H);
        Graphics2D g = graphics(img);
        title(g, String.format(Locale.ROOT, "Reliability (%d bins), ECE %.3f", ClassificationMetrics.ECE_BINS,
                m.ece()), LEFT, 22);
        axes(g, "confidence (max probability)", "accuracy", 0, 1, 0, 1);
        for (ClassificationMetrics.Bin b : m.reliability()) {
            int x0 = px(b.lower(), 0, 1);
            int x1 = px(b.upper(), 0, 1);
            int y = py(b.accuracy(), 0, 1);
            g.setColor(new Color(0x1f77b4));
            g.fillRect(x0 + 1, y, Math.max(1, x1 - x0 - 2), py(0, 0, 1) - y);
            g.setColor(Color.RED);
            int yc = py(b.confidence(), 0, 1);
            g.drawLine(x0 + 1, yc, x1 - 1, yc);
        }
        g.setColor(Color.DARK_GRAY);
        line(g, 0, 0, 1, 1, 0, 1, 0, 1);
        g.setColor(new Color(0x1f77b4));
        legend(g, 0, "accuracy");
        g.setColor(Color.RED);
        legend(g, 1, "mean confidence");
        g.dispose();
        return png(img);
    }

    /**
     * Training loss and validation (balanced) accuracy per epoch, from training.json's history.
     *
     * @param history maps with epoch, trainLoss, validationAccuracy, validationBalancedAccuracy
     */
    public static byte[] trainingCurves(List<Map<String, Object>> history) {
        BufferedImage img = canvas(W, H);
        Graphics2D g = graphics(img);
        title(g, "Training curves", LEFT, 22);
        int epochs = Math.max(2, history.size());
        double maxLoss = history.stream().mapToDouble(h -> num(h.get("trainLoss"))).max().orElse(1);
        double yMax = Math.max(1, maxLoss);
        axes(g, "epoch", "loss / accuracy", 1, epochs, 0, yMax);
        String[] keys = {"trainLoss", "validationAccuracy", "validationBalancedAccuracy"};
        for (int s = 0; s < keys.length; s++) {
            g.setColor(PALETTE[s]);
            g.setStroke(new BasicStroke(2f));
            for (int i = 1; i < history.size(); i++) {
                line(g, i, num(history.get(i - 1).get(keys[s])), i + 1, num(history.get(i).get(keys[s])), 1, epochs,
                        0, yMax);
            }
            g.setColor(PALETTE[s]);
            legend(g, s, new String[] {"train loss", "val accuracy", "val balanced acc."}[s]);
        }
        g.dispose();
        return png(img);
    }

    private static double num(Object o) {
        return o instanceof Number n ? n.doubleValue() : Double.NaN;
    }

    private static BufferedImage canvas(int w, int h) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        g.dispose();
        return img;
    }

    private static Graphics2D graphics(BufferedImage img) {
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        return g;
    }

    private static void title(Graphics2D g, String text, int x, int y) {
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
        g.drawString(text, x, y);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
    }

    private static int px(double x, double min, double max) {
        return LEFT + (int) Math.round((x - min) / (max - min) * (W - LEFT - RIGHT));
    }

    private static int py(double y, double min, double max) {
        return H - BOTTOM - (int) Math.round((y - min) / (max - min) * (H - TOP - BOTTOM));
    }

    private static void line(Graphics2D g, double x0, double y0, double x1, double y1, double xmin, double xmax,
                             double ymin, double ymax) {
        if (Double.isNaN(y0) || Double.isNaN(y1)) {
            return;
        }
        g.drawLine(px(x0, xmin, xmax), py(y0, ymin, ymax), px(x1, xmin, xmax), py(y1, ymin, ymax));
    }

    private static void axes(Graphics2D g, String xLabel, String yLabel, double xmin, double xmax, double ymin,
                             double ymax) {
        g.setColor(Color.BLACK);
        g.setStroke(new BasicStroke(1f));
        g.drawLine(px(xmin, xmin, xmax), py(ymin, ymin, ymax), px(xmax, xmin, xmax), py(ymin, ymin, ymax));
        g.drawLine(px(xmin, xmin, xmax), py(ymin, ymin, ymax), px(xmin, xmin, xmax), py(ymax, ymin, ymax));
        for (int i = 0; i <= 5; i++) {
            double x = xmin + (xmax - xmin) * i / 5;
            double y = ymin + (ymax - ymin) * i / 5;
            g.drawString(String.format(Locale.ROOT, "%.2g", x), px(x, xmin, xmax) - 10, H - BOTTOM + 16);
            g.drawString(String.format(Locale.ROOT, "%.2g", y), LEFT - 40, py(y, ymin, ymax) + 4);
        }
        g.drawString(xLabel, LEFT + (W - LEFT - RIGHT) / 2 - 40, H - 20);
        g.drawString(yLabel, 6, TOP - 8);
    }

    private static void legend(Graphics2D g, int row, String text) {
        int x = W - RIGHT + 12;
        int y = TOP + 10 + row * 18;
        g.fillRect(x, y - 8, 12, 8);
        g.setColor(Color.BLACK);
        g.drawString(text, x + 16, y);
    }

    private static byte[] png(BufferedImage img) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ImageIO.write(img, "png", out);
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
