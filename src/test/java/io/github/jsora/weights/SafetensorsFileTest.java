package io.github.jsora.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.github.jsora.tensor.Tensor;

/** The safetensors reader on good files of every dtype, sharded checkpoints, and hostile or broken files. */
class SafetensorsFileTest {

    @TempDir
    Path dir;

    /** Writes a file from a raw header string and a data section. */
    private Path raw(String name, String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return rawBytes(name, h.length, h, data);
    }

    private Path rawBytes(String name, long headerLen, byte[] header, byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(headerLen).put(header).put(data);
        Path p = dir.resolve(name);
        Files.write(p, b.array());
        return p;
    }

    private void fails(Path p, String fragment) {
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> {
            try (SafetensorsFile f = SafetensorsFile.open(p)) {
                f.tensors();
            }
        });
        assertTrue(e.getMessage().contains(p.getFileName().toString()), "message names the file: " + e.getMessage());
        assertTrue(e.getMessage().contains(fragment), "message '" + e.getMessage() + "' should mention '" + fragment
                + "'");
    }

    @Test
    void roundTripsEveryDtypeAndMetadata() throws IOException {
        float[] v = {0f, 1f, -2.5f, 3.140625f, 1e-3f, -65504f, 0.333333f};
        Path p = dir.resolve("all.safetensors");
        new SafetensorsWriter().metadata("note", "hello \"world\"\n").add("f32", v, new int[] {7}, DType.F32)
                .add("bf16", v, new int[] {7}, DType.BF16).add("f16", v, new int[] {1, 7}, DType.F16)
                .addLongs("ids", new long[] {1, -2, 3}, 3).write(p, false);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals("hello \"world\"\n", f.metadata().get("note"));
            assertArrayEquals(v, f.loadFloats("f32"));
            float[] bf = f.loadFloats("bf16");
            float[] hf = f.loadFloats("f16");
            for (int i = 0; i < v.length; i++) {
                assertEquals(v[i], bf[i], Math.abs(v[i]) / 128 + 1e-30, "bf16 " + i);
                assertEquals(v[i], hf[i], Math.abs(v[i]) / 1024 + 1e-7, "f16 " + i);
            }
            assertArrayEquals(new long[] {1, -2, 3}, f.loadLongs("ids"));
            assertArrayEquals(new int[] {1, 7}, f.info("f16").shape());
            assertEquals(List.of("f16", "f32"), f.namesWithPrefix("f"));
        }
    }

    @Test
    void halfAndBfloatConversionsAreExactOnRepresentableValues() {
        for (int bits = 0; bits < 0x10000; bits++) {
            float h = DType.halfToFloat((short) bits);
            if (!Float.isNaN(h)) {
                assertEquals((short) bits, DType.floatToHalf(h), "half bits " + Integer.toHexString(bits));
            }
            float b = DType.bf16ToFloat((short) bits);
            if (!Float.isNaN(b)) {
                assertEquals((short) bits, DType.floatToBf16(b), "bf16 bits " + Integer.toHexString(bits));
            }
        }
    }

    @Test
    void refusesOverwriteUnlessAsked() throws IOException {
        Path p = dir.resolve("x.safetensors");
        new SafetensorsWriter().add("a", new float[] {1}, new int[] {1}, DType.F32).write(p, false);
        assertThrows(java.nio.file.FileAlreadyExistsException.class,
                () -> new SafetensorsWriter().add("a", new float[] {2}, new int[] {1}, DType.F32).write(p, false));
        new SafetensorsWriter().add("a", new float[] {2}, new int[] {1}, DType.F32).write(p, true);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(2f, f.loadFloats("a")[0]);
        }
    }

    @Test
    void hostileHeaders() throws IOException {
        byte[] four = new byte[4];
        fails(rawBytes("short.safetensors", 0, new byte[0], new byte[0]).resolveSibling("short.safetensors"),
                "header length");
        Files.write(dir.resolve("tiny.safetensors"), new byte[] {1, 2, 3});
        fails(dir.resolve("tiny.safetensors"), "truncated");
        fails(rawBytes("huge.safetensors", 1L << 40, "{}".getBytes(StandardCharsets.UTF_8), four), "header length");
        fails(rawBytes("beyond.safetensors", 5000, "{}".getBytes(StandardCharsets.UTF_8), four), "exceeds the file");
        fails(rawBytes("neg.safetensors", -1, "{}".getBytes(StandardCharsets.UTF_8), four), "header length");
        fails(rawBytes("utf8.safetensors", 4, new byte[] {'{', (byte) 0xC3, (byte) 0x28, '}'}, four), "UTF-8");
        fails(raw("json.safetensors", "{\"a\": {", four), "not valid JSON");
        fails(raw("dtype.safetensors", "{\"a\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}", four),
                "dtype Q4");
        fails(raw("outside.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", four),
                "outside the data section");
        fails(raw("span.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", four),
                "does not match");
        fails(raw("overlap.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[2,4]}}", four), "overlap");
        fails(raw("dup.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", four), "duplicate");
        fails(raw("negdim.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", four),
                "invalid dimension");
        fails(raw("overflow.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2147483647,2147483647,"
                + "2147483647],\"data_offsets\":[0,4]}}", four), "overflows");
        fails(raw("meta.safetensors", "{\"__metadata__\":{\"k\":1}}", new byte[0]), "not a string");
        fails(dir.resolve("missing.safetensors"), "no such file");
    }

    @Test
    void deepNestingIsRejectedNotAStackOverflow() throws IOException {
        String deep = "[".repeat(100_000);
        fails(raw("deep.safetensors", "{\"a\":" + deep + "}", new byte[0]), "nesting");
    }

    @Test
    void truncatedDataSectionAtOpenAndAfterOpen() throws IOException {
        Path p = dir.resolve("t.safetensors");
        new SafetensorsWriter().add("a", new float[1000], new int[] {1000}, DType.F32).write(p, false);
        long size = Files.size(p);
        Path cut = dir.resolve("cut.safetensors");
        Files.copy(p, cut);
        try (RandomAccessFile f = new RandomAccessFile(cut.toFile(), "rw")) {
            f.setLength(size - 10);
        }
        fails(cut, "truncated");

        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            try (RandomAccessFile raf = new RandomAccessFile(p.toFile(), "rw")) {
                raf.setLength(size - 400);
            }
            WeightFormatException e = assertTimeoutPreemptively(Duration.ofSeconds(10),
                    () -> assertThrows(WeightFormatException.class, () -> f.load("a")));
            assertTrue(e.getMessage().contains("truncated after opening"), e.getMessage());
        }
    }

    @Test
    void shardedCheckpointAndItsFaults() throws IOException {
        Path d = Files.createDirectory(dir.resolve("sharded"));
        new SafetensorsWriter().add("a.w", new float[] {1, 2}, new int[] {2}, DType.BF16)
                .write(d.resolve("model-00001-of-00002.safetensors"), false);
        new SafetensorsWriter().add("b.w", new float[] {3, 4, 5}, new int[] {3}, DType.F16)
                .add("decoder.x", new float[] {9}, new int[] {1}, DType.F32)
                .write(d.resolve("model-00002-of-00002.safetensors"), false);
        String index = "{\"metadata\":{\"total_size\":10},\"weight_map\":{\"a.w\":\"model-00001-of-00002.safetensors\","
                + "\"b.w\":\"model-00002-of-00002.safetensors\"}}";
        Files.writeString(d.resolve("model.safetensors.index.json"), index);
        try (Checkpoint c = Checkpoint.open(d)) {
            assertTrue(c instanceof ShardedCheckpoint);
            assertEquals(List.of("a.w", "b.w"), List.copyOf(c.names()));
            try (Tensor t = c.load("b.w")) {
                assertArrayEquals(new float[] {3, 4, 5}, t.toArray());
            }
            assertEquals("10", c.metadata().get("total_size"));
            WeightFormatException e = assertThrows(WeightFormatException.class, () -> c.info("zzz"));
            assertTrue(e.getMessage().contains("zzz"));
        }
        Files.writeString(d.resolve("model.safetensors.index.json"),
                index.replace("model-00002-of-00002", "model-00003-of-00002"));
        WeightFormatException missing = assertThrows(WeightFormatException.class, () -> Checkpoint.open(d));
        assertTrue(missing.getMessage().contains("missing shard file"), missing.getMessage());
        Files.writeString(d.resolve("model.safetensors.index.json"), index.replace("\"b.w\"", "\"c.w\""));
        WeightFormatException absent = assertThrows(WeightFormatException.class, () -> Checkpoint.open(d));
        assertTrue(absent.getMessage().contains("\"c.w\" is named in the index but absent"), absent.getMessage());
        Files.writeString(d.resolve("model.safetensors.index.json"), "{\"metadata\":{}}");
        assertThrows(WeightFormatException.class, () -> Checkpoint.open(d));
        Files.writeString(d.resolve("model.safetensors.index.json"),
                index.replace("model-00002-of-00002.safetensors", "../../etc/passwd"));
        WeightFormatException outside = assertThrows(WeightFormatException.class, () -> Checkpoint.open(d));
        assertTrue(outside.getMessage().contains("outside"), outside.getMessage());
    }

    @Test
    void layoutValidationNamesTensorAndShapes() throws IOException {
        Path p = dir.resolve("m.safetensors");
        new SafetensorsWriter().add("blk.0.w", new float[6], new int[] {2, 3}, DType.F32)
                .add("extra", new float[1], new int[] {1}, DType.F32).write(p, false);
        BlockLayout ok = BlockLayout.builder().block("b0").tensor("blk.0.w", 2, 3).build();
        BlockLayout wrong = BlockLayout.builder().block("b0").tensor("blk.0.w", 3, 2).build();
        BlockLayout more = BlockLayout.builder().block("b0").tensor("blk.0.w", 2, 3).tensor("blk.0.b", 2).build();
        try (Checkpoint c = Checkpoint.open(p)) {
            ok.validate(c, "extra");
            WeightFormatException extra = assertThrows(WeightFormatException.class, () -> ok.validate(c));
            assertTrue(extra.getMessage().contains("unexpected tensor \"extra\""), extra.getMessage());
            WeightFormatException shape = assertThrows(WeightFormatException.class, () -> wrong.validate(c, "extra"));
            assertTrue(shape.getMessage().contains("[2, 3]") && shape.getMessage().contains("[3, 2]"),
                    shape.getMessage());
            WeightFormatException miss = assertThrows(WeightFormatException.class, () -> more.validate(c, "extra"));
            assertTrue(miss.getMessage().contains("blk.0.b"), miss.getMessage());
            try (ResidentBlockSource src = new ResidentBlockSource(c, ok)) {
                Block b = src.acquire("b0");
                assertEquals(24, b.bytes());
                assertArrayEquals(new int[] {2, 3}, b.get("blk.0.w").shape());
                src.release(b);
            }
        }
    }

    @Test
    void configAccessNamesKeyAndFile() {
        ModelConfig c = ModelConfig.parse("cfg.json", "{\"a\": 3, \"b\": 1.5, \"s\": \"x\", \"arr\": [1,2], "
                + "\"o\": {\"k\": true}}");
        assertEquals(3, c.getInt("a"));
        assertEquals(1.5, c.getDouble("b"));
        assertArrayEquals(new int[] {1, 2}, c.getIntArray("arr"));
        assertTrue(c.getObject("o").getBoolean("k", false));
        assertEquals(7, c.getInt("missing", 7));
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> c.getInt("b"));
        assertTrue(e.getMessage().contains("cfg.json") && e.getMessage().contains("\"b\""), e.getMessage());
        assertThrows(WeightFormatException.class, () -> c.getInt("nope"));
        assertThrows(WeightFormatException.class, () -> ModelConfig.parse("bad.json", "{"));
        Map<String, Object> m = Json.parseObject("{\"u\": \"\\u00e9\\n\", \"n\": -1.5e3, \"z\": null}");
        assertEquals("é\n", m.get("u"));
        assertEquals(-1500.0, m.get("n"));
        assertTrue(m.containsKey("z"));
    }
}
