package io.github.jsora.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.github.jsora.dit.Stdit3;
import io.github.jsora.dit.Stdit3Config;
import io.github.jsora.tensor.Tensor;

/** Converted checkpoints: same packed values as packing in memory, stale caches rebuilt, the original untouched. */
class WeightCacheTest {

    static final Path WEIGHTS = Path.of("testdata/golden/stdit3_tiny_G_weights.safetensors");

    @TempDir
    Path tmp;

    private Path copyOfWeights() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("stdit"));
        Path src = dir.resolve("model.safetensors");
        Files.copy(WEIGHTS, src);
        return src;
    }

    @Test
    void roundTripEqualsPackingInMemory() throws Exception {
        Path src = copyOfWeights();
        String before = sha(src);
        for (WeightPrecision p : new WeightPrecision[] {WeightPrecision.BF16, WeightPrecision.INT8}) {
            Path cacheDir = tmp.resolve("cache");
            try (SafetensorsFile orig = SafetensorsFile.open(src);
                    ConvertedCheckpoint conv = WeightCache.open(src, p, cacheDir)) {
                assertEquals(p, conv.precision());
                assertEquals(orig.names(), conv.names());
                assertEquals(orig.metadata().get("config"), conv.metadata().get("config"));
                assertEquals("model.safetensors", conv.metadata().get(WeightCache.SOURCE));
                assertTrue(Files.size(conv.source()) < Files.size(src) * (p == WeightPrecision.BF16 ? 0.6 : 0.35),
                        "cache file " + Files.size(conv.source()) + " bytes, original " + Files.size(src));
                Stdit3Config cfg = Stdit3Config.parse("config", orig.metadata().get("config"));
                BlockLayout layout = Stdit3.validatedLayout(cfg, orig);
                Stdit3.validatedLayout(cfg, conv); // the converted checkpoint passes the same validation
                try (ResidentBlockSource a = new ResidentBlockSource(orig, layout, p);
                        ResidentBlockSource b = new ResidentBlockSource(conv, layout, p);
                        ResidentBlockSource c = new ResidentBlockSource(conv, layout)) {
                    assertEquals(a.bytes(), b.bytes());
                    for (BlockLayout.BlockSpec spec : layout.blocks()) {
                        Block x = a.acquire(spec.name());
                        Block y = b.acquire(spec.name());
                        Block z = c.acquire(spec.name());
                        for (String n : spec.tensors().keySet()) {
                            float[] want = x.get(n).toArray();
                            assertArrayEquals(want, y.get(n).toArray(), p + " packed from cache: " + n);
                            assertArrayEquals(want, z.get(n).toArray(), p + " float32 load of cache: " + n);
                        }
                        a.release(x);
                        b.release(y);
                        c.release(z);
                    }
                }
            }
        }
        assertEquals(before, sha(src), "the original was modified");
    }

    @Test
    void staleOrBrokenCacheIsRebuilt() throws Exception {
        Path src = copyOfWeights();
        Path cacheDir = tmp.resolve("cache");
        Path file = WeightCache.ensure(src, WeightPrecision.INT8, cacheDir);
        assertEquals(WeightCache.cacheFile(src, WeightPrecision.INT8, cacheDir), file);
        FileTime made = Files.getLastModifiedTime(file);
        assertEquals(file, WeightCache.ensure(src, WeightPrecision.INT8, cacheDir));
        assertEquals(made, Files.getLastModifiedTime(file), "a current cache was rewritten");

        // source touched: the recorded mtime no longer matches
        long t = Files.getLastModifiedTime(src).toMillis() + 5000;
        Files.setLastModifiedTime(src, FileTime.fromMillis(t));
        Files.setLastModifiedTime(file, FileTime.fromMillis(0));
        WeightCache.ensure(src, WeightPrecision.INT8, cacheDir);
        assertNotEquals(0, Files.getLastModifiedTime(file).toMillis(), "stale cache not rebuilt");
        try (ConvertedCheckpoint c = ConvertedCheckpoint.open(file)) {
            assertEquals(Long.toString(t), c.metadata().get(WeightCache.SOURCE_MTIME));
        }

        // a cache cut short is rebuilt too
        byte[] all = Files.readAllBytes(file);
        Files.write(file, java.util.Arrays.copyOf(all, all.length / 2));
        WeightCache.ensure(src, WeightPrecision.INT8, cacheDir);
        assertEquals(all.length, Files.size(file));
        try (ConvertedCheckpoint c = ConvertedCheckpoint.open(file)) {
            assertEquals(WeightPrecision.INT8, c.precision());
        }
        // a cache of another precision under the name is rebuilt
        Path bf = WeightCache.cacheFile(src, WeightPrecision.BF16, cacheDir);
        Files.copy(file, bf);
        WeightCache.ensure(src, WeightPrecision.BF16, cacheDir);
        try (ConvertedCheckpoint c = ConvertedCheckpoint.open(bf)) {
            assertEquals(WeightPrecision.BF16, c.precision());
        }
    }

    @Test
    void rejectsFloat32AndFilesWithoutScales() throws Exception {
        Path src = copyOfWeights();
        assertThrows(IllegalArgumentException.class, () -> WeightCache.ensure(src, WeightPrecision.FLOAT32, tmp));
        Path bad = tmp.resolve("bad.safetensors");
        new SafetensorsWriter().add("w", new float[] {1, 2, 3, 4}, new int[] {2, 2}, DType.F32).write(bad, false);
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> ConvertedCheckpoint.open(bad));
        assertTrue(e.getMessage().contains(WeightCache.PRECISION), e.getMessage());
    }

    @Test
    void convertedInt8KeepsScalesBesideTheWeights() throws Exception {
        Path src = copyOfWeights();
        Path file = WeightCache.ensure(src, WeightPrecision.INT8, tmp.resolve("c"));
        try (SafetensorsFile raw = SafetensorsFile.open(file); SafetensorsFile orig = SafetensorsFile.open(src)) {
            for (String n : orig.names()) {
                TensorInfo o = orig.info(n);
                if (o.shape().length >= 2) {
                    assertEquals(DType.I8, raw.info(n).dtype(), n);
                    assertArrayEquals(new int[] {o.shape()[0]}, raw.info(n + ".scale").shape(), n);
                } else {
                    assertEquals(DType.F32, raw.info(n).dtype(), n);
                }
            }
            assertEquals("int8", raw.metadata().get(WeightCache.PRECISION));
            for (Map.Entry<String, String> m : Map.of(WeightCache.SOURCE_SIZE, Long.toString(Files.size(src)))
                    .entrySet()) {
                assertEquals(m.getValue(), raw.metadata().get(m.getKey()));
            }
        }
    }

    private static String sha(Path p) throws IOException, NoSuchAlgorithmException {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
    }
}
