package io.medfuse.model.contract;

/**
 * One output class, in output order.
 *
 * @param name the label published on predictions
 * @param frequency share of this class in the training data, in [0,1], or null when unknown (monitoring compares the
 *                  predicted mix against it)
 */
public record ClassLabel(String name, Double frequency) {
}
