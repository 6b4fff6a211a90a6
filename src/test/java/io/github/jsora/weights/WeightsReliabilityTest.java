package io.github.jsora.weights;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.github.jsora.tensor.Tensor;

/** Issue 15 defects 1, 5, 10 and 11 (latent mode): committing files, files shrunk while read, shard links. */
class WeightsReliabilityTest {

    @TempDir
    Path dir;

    /** A file created by someone else between the early check and the commit is never replaced. */
    @Test
    void aFileCreatedWhileWritingIsNotReplaced() throws IOException {
        Path target = dir.resolve("latent.safetensors");
        SafetensorsWriter w = new SafetensorsWriter().add("a", new float[] {1, 2}, new int[] {2}, DType.F32);
        w.addStreamed("b", DType.F32, new int[] {1}, out -> {
            Files.writeString(target, "precious"); // another process wins the race mid-write
            out.write(new byte[4]);
        });
        assertThrows(FileAlreadyExistsException.class, () -> w.write(target, false));
        assertEquals("precious", Files.readString(target), "the other file survives");
        assertEquals(List.of("latent.safetensors"), names(dir), "no temporary file is left");
    }

    @Test
    void overwriteReplacesAndNoReplaceCommitsWithTheDefaultMode() throws IOException {
        Path target = dir.resolve("x.safetensors");
        new SafetensorsWriter().add("a", new float[] {1}, new int[] {1}, DType.F32).write(target, false);
        Path plain = Files.createFile(dir.resolve("plain")); // what the umask gives any new file
        Set<PosixFilePermission> want = Files.getPosixFilePermissions(plain);
        assertEquals(want, Files.getPosixFilePermissions(target), "a written file follows the umask like a video");
        new SafetensorsWriter().add("a", new float[] {7}, new int[] {1}, DType.F32).write(target, true);
        try (SafetensorsFile f = SafetensorsFile.open(target)) {
            assertEquals(7f, f.loadFloats("a")[0]);
        }
        assertThrows(FileAlreadyExistsException.class,
                () -> new SafetensorsWriter().add("a", new float[] {1}, new int[] {1}, DType.F32).write(target, false));
    }

    /** Truncating the file while tensors are read gives the documented exception, never a crash. */
    @Test
    void aFileTruncatedDuringReadsFailsWithWeightFormatException() throws Exception {
        int n = 4 << 20; // 16 MB per tensor
        float[] v = new float[n];
        for (int round = 0; round < 4; round++) {
            Path file = dir.resolve("big" + round + ".safetensors");
            new SafetensorsWriter().add("a", v, new int[] {n}, DType.F32).add("b", v, new int[] {n}, DType.BF16)
                    .write(file, true);
            AtomicReference<Throwable> seen = new AtomicReference<>();
            AtomicBoolean stop = new AtomicBoolean();
            try (SafetensorsFile f = SafetensorsFile.open(file); Tensor t = Tensor.zeros(n)) {
                Thread reader = new Thread(() -> {
                    try {
                        while (!stop.get()) {
                            f.loadInto("a", t);
                            f.loadInto("b", t);
                        }
                    } catch (Throwable e) {
                        seen.set(e);
                    }
                });
                reader.start();
                Thread.sleep(20 + 10 * round);
                try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
                    raf.setLength(1000 + 3_000_000L * round);
                }
                reader.join(20_000);
                stop.set(true);
                reader.join(5_000);
                Throwable e = seen.get();
                if (e == null) {
                    fail("round " + round + ": reads of the truncated file did not fail");
                }
                if (!(e instanceof WeightFormatException)) {
                    throw new AssertionError("round " + round + ": " + e, e);
                }
                assertTrue(e.getMessage().contains("truncated") && e.getMessage().contains(file.toString()),
                        e.getMessage());
            }
        }
    }

    /** An interrupt of a reading thread cancels that read; the file stays readable by others. */
    @Test
    void anInterruptedReadLeavesTheFileUsable() throws IOException {
        Path file = dir.resolve("i.safetensors");
        new SafetensorsWriter().add("a", new float[] {1, 2, 3}, new int[] {3}, DType.F32).write(file, true);
        try (SafetensorsFile f = SafetensorsFile.open(file); Tensor t = Tensor.zeros(3)) {
            Thread.currentThread().interrupt();
            assertThrows(CancellationException.class, () -> f.loadInto("a", t));
            assertTrue(Thread.interrupted(), "interrupt status kept");
            f.loadInto("a", t);
            assertEquals(3f, t.get(2));
        }
    }

    @Test
    void aShardLinkOutOfTheDirectoryIsRefusedAndNoBytesAreEchoed() throws IOException {
        Path outside = Files.createDirectories(dir.resolve("outside"));
        Path secret = Files.write(outside.resolve("secret"), "PASSWORD-and-more-text".getBytes(StandardCharsets.UTF_8));
        Path ckpt = Files.createDirectories(dir.resolve("ckpt"));
        Files.createSymbolicLink(ckpt.resolve("model-00001.safetensors"), secret);
        Path index = Files.writeString(ckpt.resolve("model.safetensors.index.json"),
                "{\"weight_map\": {\"w\": \"model-00001.safetensors\"}}");
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> ShardedCheckpoint.open(index));
        assertTrue(e.getMessage().contains("outside"), e.getMessage());
        // opened directly, the message says what is wrong without printing the file's first 8 bytes as a number
        WeightFormatException direct = assertThrows(WeightFormatException.class, () -> SafetensorsFile.open(secret));
        long asNumber = java.nio.ByteBuffer.wrap("PASSWORD".getBytes(StandardCharsets.US_ASCII))
                .order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        assertFalse(direct.getMessage().contains(Long.toUnsignedString(asNumber)), direct.getMessage());
        assertFalse(direct.getMessage().contains(Long.toString(asNumber)), direct.getMessage());
        assertFalse(direct.getMessage().contains("PASSWORD"), direct.getMessage());
    }

    @Test
    void patchSizeAndCountsAreNeverTruncated() {
        ModelConfig c = ModelConfig.parse("config.json", "{\"patch_size\": [1, 4294967298, 2]}");
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> c.getIntArray("patch_size"));
        assertTrue(e.getMessage().contains("4294967298"), e.getMessage());
    }

    /** Found by the fuzz campaign: digits of other scripts are not JSON digits (they broke Double.parseDouble). */
    @Test
    void onlyAsciiDigitsMakeJsonNumbers() {
        for (String bad : new String[] {"{\"a\": 4.\u07c6}", "{\"a\": \u0661\u0662}", "{\"a\": 1e\u0663}"}) {
            assertThrows(WeightFormatException.class, () -> ModelConfig.parse("config.json", bad), bad);
        }
        assertEquals(12, ModelConfig.parse("config.json", "{\"a\": 12}").getInt("a"));
    }

    private static List<String> names(Path d) throws IOException {
        try (Stream<Path> s = Files.list(d)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
