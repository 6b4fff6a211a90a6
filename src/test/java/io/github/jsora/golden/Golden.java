package io.github.jsora.golden;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import java.util.stream.Stream;

import org.junit.jupiter.api.DynamicTest;

import io.github.jsora.dit.Stdit3;
import io.github.jsora.dit.Stdit3Config;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.SafetensorsFile;

/**
 * The golden-case contract shared by every {@code *GoldenTest}.
 *
 * <p>A case of kind K is a file {@code K.safetensors} or {@code K_*.safetensors} in the folder named by the system
 * property {@code golden.dir} (default {@code testdata/golden}); files ending {@code _weights.safetensors} are
 * resources, not cases. Each case becomes one dynamic test; it prints one line
 * {@code golden <kind> <file>: max_abs_err=<x> tol=<y> PASS|FAIL} per compared output and fails on any error.
 * With the default folder, finding no case of a kind fails the kind's test; nothing is ever skipped.
 */
public final class Golden {

    public static final String PROPERTY = "golden.dir";
    public static final String DEFAULT_DIR = "testdata/golden";

    private Golden() {
    }

    /** The folder of cases. */
    public static Path dir() {
        return Paths.get(System.getProperty(PROPERTY, DEFAULT_DIR));
    }

    /** True when {@code golden.dir} was not set to another folder. */
    public static boolean isDefaultDir() {
        String p = System.getProperty(PROPERTY);
        if (p == null) {
            return true;
        }
        try {
            return Paths.get(p).toRealPath().equals(Paths.get(DEFAULT_DIR).toRealPath());
        } catch (IOException e) {
            return false;
        }
    }

    /** The case files of {@code kind}, sorted by name. */
    public static List<Path> cases(String kind) {
        Path dir = dir();
        assertTrue(Files.isDirectory(dir), "golden.dir " + dir.toAbsolutePath() + " is not a directory");
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> {
                String n = p.getFileName().toString();
                return n.endsWith(".safetensors") && !n.endsWith("_weights.safetensors")
                        && (n.equals(kind + ".safetensors") || n.startsWith(kind + "_"));
            }).sorted().toList();
        } catch (IOException e) {
            throw new AssertionError("cannot list " + dir, e);
        }
    }

    /**
     * One dynamic test per case of {@code kind}. Fails (as a test) when the default folder holds no case of the
     * kind; another folder without the kind yields a single test that states so.
     */
    public static Stream<DynamicTest> tests(String kind, Consumer<Path> runCase) {
        List<Path> cases = cases(kind);
        if (cases.isEmpty()) {
            return Stream.of(DynamicTest.dynamicTest("no " + kind + " cases", () -> {
                assertFalse(isDefaultDir(), "no case of kind " + kind + " in " + dir().toAbsolutePath());
                System.out.println("golden " + kind + ": no cases in " + dir().toAbsolutePath());
            }));
        }
        return cases.stream().map(p -> DynamicTest.dynamicTest(p.getFileName().toString(), () -> runCase.accept(p)));
    }

    /** An integer tensor [rows, cols] of a case (token ids, masks) as int rows. */
    public static int[][] intRows(SafetensorsFile c, String name) {
        int[] shape = c.info(name).shape();
        long[] flat = c.loadLongs(name);
        int[][] out = new int[shape[0]][shape[1]];
        for (int b = 0; b < shape[0]; b++) {
            for (int i = 0; i < shape[1]; i++) {
                out[b][i] = Math.toIntExact(flat[b * shape[1] + i]);
            }
        }
        return out;
    }

    /** The STDiT3 of a case's weights file (named by its "weights" metadata; config from that file's metadata). */
    public static Stdit3 stdit3(Path caseFile, SafetensorsFile c) {
        Path weights = resource(caseFile, c, "weights");
        try (SafetensorsFile wf = SafetensorsFile.open(weights)) {
            String json = wf.metadata().get("config");
            assertTrue(json != null, weights + ": metadata has no \"config\"");
            return Stdit3.load(Stdit3Config.parse(weights + "#config", json), wf);
        }
    }

    /** Opens a case file. */
    public static SafetensorsFile open(Path file) {
        return SafetensorsFile.open(file);
    }

    /** A resource named by a case's metadata, resolved beside the case file. */
    public static Path resource(Path caseFile, SafetensorsFile c, String metadataKey) {
        String name = c.metadata().get(metadataKey);
        if (name == null) {
            fail(caseFile.getFileName() + ": metadata has no \"" + metadataKey + "\"");
        }
        Path p = caseFile.toAbsolutePath().getParent().resolve(name);
        assertTrue(Files.isRegularFile(p), caseFile.getFileName() + ": resource " + p + " is missing");
        return p;
    }

    /** Largest |expected − actual|; a NaN on either side counts as infinite unless both are NaN. */
    public static double maxAbsErr(float[] expected, float[] actual) {
        if (expected.length != actual.length) {
            return Double.POSITIVE_INFINITY;
        }
        double m = 0;
        for (int i = 0; i < expected.length; i++) {
            float e = expected[i];
            float a = actual[i];
            if (Float.isNaN(e) || Float.isNaN(a)) {
                if (!(Float.isNaN(e) && Float.isNaN(a))) {
                    return Double.POSITIVE_INFINITY;
                }
                continue;
            }
            m = Math.max(m, Math.abs((double) e - a));
        }
        return m;
    }

    /** Compares a tensor with a stored one (shapes must match), prints the golden line and fails above tol. */
    public static double check(String kind, Path file, String what, Tensor expected, Tensor actual, double tol) {
        if (!expected.hasShape(actual.shape())) {
            System.out.println(line(kind, file, what, Double.POSITIVE_INFINITY, tol));
            fail(file.getFileName() + " " + what + ": expected shape " + expected.shapeString() + ", found "
                    + actual.shapeString());
        }
        return check(kind, file, what, expected.toArray(), actual.toArray(), tol);
    }

    /** Compares arrays, prints the golden line and fails above tol. */
    public static double check(String kind, Path file, String what, float[] expected, float[] actual, double tol) {
        double err = maxAbsErr(expected, actual);
        System.out.println(line(kind, file, what, err, tol));
        if (!(err <= tol)) {
            fail(file.getFileName() + " " + what + ": max_abs_err=" + err + " exceeds tol=" + tol
                    + (expected.length != actual.length ? " (lengths " + expected.length + " vs " + actual.length + ")"
                            : ""));
        }
        return err;
    }

    static String line(String kind, Path file, String what, double err, double tol) {
        String name = file.getFileName().toString() + (what == null || what.isEmpty() ? "" : " " + what);
        return String.format(Locale.ROOT, "golden %s %s: max_abs_err=%.3e tol=%.1e %s", kind, name, err, tol,
                err <= tol ? "PASS" : "FAIL");
    }
}
