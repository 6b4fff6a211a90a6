package io.github.jsora;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.github.jsora.weights.WeightFormatException;

/** Issue 15 defects 4 and 9: huge counts and overflowing patch sizes in config.json fail fast and clearly. */
class ConfigBoundsTest {

    @TempDir
    Path dir;

    private Path demoCopy() throws Exception {
        Path copy = dir.resolve("model");
        try (VideoGenerator g = VideoGenerator.openDefault()) { // copied while open: any unpacked copy will do
            for (String sub : new String[] {"stdit", "vae", "t5"}) {
                Files.createDirectories(copy.resolve(sub));
                try (var s = Files.list(g.modelDirectory().resolve(sub))) {
                    for (Path p : s.toList()) {
                        Files.copy(p, copy.resolve(sub).resolve(p.getFileName()));
                    }
                }
            }
        }
        return copy;
    }

    /** Replaces the first {@code "key": value} of a config with {@code "key": replacement}. */
    private static void set(Path config, String key, String replacement) throws Exception {
        String s = Files.readString(config);
        String t = s.replaceFirst("\"" + key + "\"\\s*:\\s*(\\[[^\\]]*\\]|[^,}\\s]+)",
                java.util.regex.Matcher.quoteReplacement("\"" + key + "\": " + replacement));
        assertFalse(s.equals(t), key + " not found in " + config);
        Files.writeString(config, t);
    }

    @Test
    void hugeCountsAndPatchSizesFailFastNamingTheKey() throws Exception {
        String[][] cases = {{"stdit/config.json", "depth", "2000000000", "depth"},
            {"t5/config.json", "num_layers", "2000000000", "num_layers"},
            {"vae/config.json", "num_res_blocks", "2000000000", "num_res_blocks"},
            {"stdit/config.json", "patch_size", "[1, 4294967298, 2]", "4294967298"},
            {"stdit/config.json", "patch_size", "[2, 32768, 32768]", "patch_size"}};
        for (String[] c : cases) {
            Path model = demoCopy();
            set(model.resolve(c[0]), c[1], c[2]);
            long t0 = System.nanoTime();
            WeightFormatException e = assertThrows(WeightFormatException.class, () -> {
                try (VideoGenerator g = VideoGenerator.open(model)) {
                    g.modelInfo();
                }
            }, c[1] + " " + c[2]);
            double s = (System.nanoTime() - t0) / 1e9;
            assertTrue(s < 10, c[1] + " took " + s + " s");
            assertTrue(e.getMessage().contains(c[3]) && e.getMessage().contains("config.json"), e.getMessage());
            assertFalse(e.getMessage().contains("-2147483648"), e.getMessage());
            deleteTree(model);
        }
    }

    @Test
    void blockCountsAreComparedWithTheCheckpointBeforeTheLayoutIsBuilt() throws Exception {
        // within the bounds, but not what the checkpoint holds: refused naming the key and both counts
        String[][] cases = {{"stdit/config.json", "depth", "1000", "depth = 1000"},
            {"t5/config.json", "num_layers", "1000", "num_layers = 1000"}};
        for (String[] c : cases) {
            Path model = demoCopy();
            set(model.resolve(c[0]), c[1], c[2]);
            WeightFormatException e = assertThrows(WeightFormatException.class, () -> {
                try (VideoGenerator g = VideoGenerator.open(model)) {
                    g.modelInfo();
                }
            }, c[1] + " " + c[2]);
            assertTrue(e.getMessage().contains(c[3]) && e.getMessage().contains("the checkpoint has"),
                    e.getMessage());
            deleteTree(model);
        }
    }

    private static void deleteTree(Path p) throws Exception {
        try (var s = Files.walk(p)) {
            for (Path x : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(x);
            }
        }
    }
}
