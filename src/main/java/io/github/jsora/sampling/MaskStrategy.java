package io.github.jsora.sampling;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Open-Sora v1.2's mask strategy for one sample: groups {@code loop,ref,ref_start,target_start,length,edit_ratio}
 * separated by {@code ';'} (the {@code mask_strategy} of its inference script). A group copies {@code length} latent
 * frames of reference {@code ref}, from frame {@code ref_start}, into the latent at {@code target_start}, and marks
 * them as conditioned with the edit ratio ({@code 0} = kept as given; {@code e > 0} = re-noised and denoised from
 * the first step with {@code t ≤ 1000·e}). Only groups whose {@code loop} is the current loop index apply. A group
 * may give its first 1 to 6 fields; the rest default to {@code 0,0,0,0,1,0}. Negative starts count from the end
 * (of the reference, of the latent). See {@link FrameConditioning#fromStrategies}.
 *
 * @param groups the groups in order (later groups overwrite earlier ones where they overlap)
 */
public record MaskStrategy(List<Group> groups) {

    /**
     * One group.
     *
     * @param loop           loop index the group belongs to (0 = the first generation)
     * @param reference      index of the reference in the sample's reference list
     * @param referenceStart first reference frame (negative: from the reference's end)
     * @param targetStart    first latent frame written (negative: from the latent's end)
     * @param length         frames to copy (cut to what fits in both)
     * @param editRatio      the frames' mask value, in [0, 1]
     */
    public record Group(int loop, int reference, int referenceStart, int targetStart, int length, double editRatio) {

        public Group {
            String text = loop + "," + reference + "," + referenceStart + "," + targetStart + "," + length + ","
                    + editRatio;
            if (loop < 0 || reference < 0 || length < 0) {
                throw new IllegalArgumentException("mask strategy group " + text
                        + ": loop, ref and length must be >= 0");
            }
            if (!(editRatio >= 0 && editRatio <= 1)) {
                throw new IllegalArgumentException("mask strategy group " + text
                        + ": edit ratio must be in [0, 1], found " + editRatio);
            }
        }

        @Override
        public String toString() {
            return loop + "," + reference + "," + referenceStart + "," + targetStart + "," + length + ","
                    + formatRatio(editRatio);
        }
    }

    private static final String[] FIELDS = {"loop", "ref", "ref_start", "target_start", "length", "edit_ratio"};
    private static final String[] DEFAULTS = {"0", "0", "0", "0", "1", "0"};

    public MaskStrategy {
        groups = List.copyOf(groups);
    }

    /** No groups (the text-to-video strategy {@code ""}). */
    public static MaskStrategy none() {
        return new MaskStrategy(List.of());
    }

    /**
     * Parses a strategy string; {@code ""} (or null) has no groups.
     *
     * @throws IllegalArgumentException naming the group and field that is not a number or out of range
     */
    public static MaskStrategy parse(String text) {
        if (text == null || text.isEmpty()) {
            return none();
        }
        List<Group> out = new ArrayList<>();
        String[] groups = text.split(";", -1);
        for (String g : groups) {
            String[] f = g.split(",", -1);
            if (f.length > 6 || g.isBlank()) {
                throw new IllegalArgumentException("mask strategy \"" + text + "\": group \"" + g + "\" must have 1 to 6 "
                        + "comma-separated fields " + String.join(",", FIELDS));
            }
            String[] v = DEFAULTS.clone();
            System.arraycopy(f, 0, v, 0, f.length);
            int[] ints = new int[5];
            for (int i = 0; i < 5; i++) {
                try {
                    ints[i] = Integer.parseInt(v[i].trim());
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("mask strategy \"" + text + "\": " + FIELDS[i] + " of group \"" + g
                            + "\" is not an integer: \"" + v[i] + "\"");
                }
            }
            double edit;
            try {
                edit = Double.parseDouble(v[5].trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("mask strategy \"" + text + "\": edit_ratio of group \"" + g
                        + "\" is not a number: \"" + v[5] + "\"");
            }
            try {
                out.add(new Group(ints[0], ints[1], ints[2], ints[3], ints[4], edit));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("mask strategy \"" + text + "\": " + e.getMessage(), e);
            }
        }
        return new MaskStrategy(out);
    }

    /**
     * The group Open-Sora's {@code append_generated} adds for loop {@code loop}: the last {@code overlap} latent
     * frames of reference {@code reference} (the previous clip) become the first {@code overlap} frames, with the
     * given edit ratio.
     */
    public static Group continuation(int loop, int reference, int overlap, double editRatio) {
        return new Group(loop, reference, -overlap, 0, overlap, editRatio);
    }

    /** This strategy with {@code g} appended. */
    public MaskStrategy with(Group g) {
        List<Group> l = new ArrayList<>(groups);
        l.add(g);
        return new MaskStrategy(l);
    }

    /** The groups of loop index {@code loop}. */
    public List<Group> groupsOf(int loop) {
        return groups.stream().filter(g -> g.loop() == loop).toList();
    }

    /** The strategy string ({@link #parse} reads it back). */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        for (Group g : groups) {
            if (sb.length() > 0) {
                sb.append(';');
            }
            sb.append(g);
        }
        return sb.toString();
    }

    private static String formatRatio(double v) {
        return v == Math.rint(v) ? String.format(Locale.ROOT, "%.1f", v) : Double.toString(v);
    }
}
