package io.medfuse.trainer.data;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * A train/validation split that never puts one group (lesion, patient) on both sides, stratified by label as far as
 * the groups allow: groups are put in the stratum of their most common label, shuffled with the seed, and taken into
 * validation until that stratum has its share of rows. The same samples, fraction and seed give the same split.
 *
 * @param train training sample indices, ascending
 * @param validation validation sample indices, ascending
 * @param seed the seed used
 * @param validationFraction the requested share of validation rows
 */
public record GroupedSplit(List<Integer> train, List<Integer> validation, long seed, double validationFraction) {

    public GroupedSplit {
        train = List.copyOf(train);
        validation = List.copyOf(validation);
    }

    /**
     * @param fraction share of rows for validation, in (0, 1)
     * @throws IllegalArgumentException when fraction is out of range
     * @throws DatasetException (UNUSABLE) when there are fewer than two groups
     */
    public static GroupedSplit of(Dataset dataset, double fraction, long seed) {
        if (!(fraction > 0 && fraction < 1)) {
            throw new IllegalArgumentException("validation fraction must be in (0,1), got " + fraction);
        }
        List<Sample> samples = dataset.samples();
        Map<String, List<Integer>> groups = new LinkedHashMap<>();
        for (int i = 0; i < samples.size(); i++) {
            groups.computeIfAbsent(samples.get(i).group(), g -> new ArrayList<>()).add(i);
        }
        if (groups.size() < 2) {
            throw new DatasetException(DatasetException.Reason.UNUSABLE, dataset.csv(), 0,
                    dataset.options().groupColumn(), "all " + samples.size() + " rows are one group; a validation "
                    + "split needs at least two groups");
        }
        // stratum = most common label in the group (ties: the first label in output order)
        Map<String, List<List<Integer>>> strata = new LinkedHashMap<>();
        for (String label : dataset.labels()) {
            strata.put(label, new ArrayList<>());
        }
        for (List<Integer> members : groups.values()) {
            Map<String, Integer> counts = new HashMap<>();
            members.forEach(i -> counts.merge(samples.get(i).label(), 1, Integer::sum));
            String majority = dataset.labels().stream()
                    .max((a, b) -> Integer.compare(counts.getOrDefault(a, 0), counts.getOrDefault(b, 0)) != 0
                            ? Integer.compare(counts.getOrDefault(a, 0), counts.getOrDefault(b, 0))
                            : Integer.compare(dataset.labels().indexOf(b), dataset.labels().indexOf(a)))
                    .orElseThrow();
            strata.computeIfAbsent(majority, k -> new ArrayList<>()).add(members);
        }
        Random rng = new Random(seed);
        List<Integer> train = new ArrayList<>();
        List<Integer> val = new ArrayList<>();
        for (List<List<Integer>> stratum : strata.values()) {
            Collections.shuffle(stratum, rng);
            int rows = stratum.stream().mapToInt(List::size).sum();
            long target = Math.round(rows * fraction);
            int taken = 0;
            for (List<Integer> members : stratum) {
                // take a group while it brings validation closer to its target
                if (taken < target && Math.abs(taken + members.size() - target) <= Math.abs(target - taken)) {
                    val.addAll(members);
                    taken += members.size();
                } else {
                    train.addAll(members);
                }
            }
        }
        if (val.isEmpty() || train.isEmpty()) {
            // tiny data: move one whole group so both sides have rows
            List<Integer> from = val.isEmpty() ? train : val;
            List<Integer> to = val.isEmpty() ? val : train;
            String g = samples.get(from.get(0)).group();
            List<Integer> moving = groups.get(g);
            from.removeAll(moving);
            to.addAll(moving);
        }
        Collections.sort(train);
        Collections.sort(val);
        return new GroupedSplit(train, val, seed, fraction);
    }

    /** The samples at {@code indices}. */
    public static List<Sample> pick(Dataset dataset, List<Integer> indices) {
        return indices.stream().map(dataset.samples()::get).toList();
    }
}
