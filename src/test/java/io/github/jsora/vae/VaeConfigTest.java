package io.github.jsora.vae;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;

import org.junit.jupiter.api.Test;

import io.github.jsora.weights.BlockLayout;
import io.github.jsora.weights.ModelConfig;
import io.github.jsora.weights.WeightFormatException;

/** The three config layouts and the layout of weight names they imply. */
class VaeConfigTest {

    private static ModelConfig resource(String name) throws IOException {
        try (InputStream in = VaeConfigTest.class.getResourceAsStream(name)) {
            return ModelConfig.parse(name, new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
    }

    @Test
    void publishedConfigIsSdxlPlusTemporalSd() throws IOException {
        // keys of hpcai-tech/OpenSora-VAE-v1.2 config.json (SPEC §5.5): architectures named by type only
        VaeConfig c = VaeConfig.parse(resource("opensora_vae_v12_config.json"));
        VaeConfig v12 = VaeConfig.openSoraV12();
        assertEquals(v12.toString(), c.toString());
        assertArrayEquals(new int[] {128, 256, 512, 512}, c.spatial().blockOutChannels());
        assertEquals(2, c.spatial().layersPerBlock());
        assertEquals(32, c.spatial().normGroups());
        assertEquals(128, c.temporal().filters());
        assertEquals(4, c.temporal().numResBlocks());
        assertArrayEquals(new int[] {1, 2, 2, 4}, c.temporal().channelMultipliers());
        assertArrayEquals(new boolean[] {false, true, true}, c.temporal().temporalDownsample());
        assertEquals(4, c.temporal().timeDownsample());
        assertEquals(17, c.microFrameSize());
        assertEquals(5, c.latentFramesPerChunk());
        assertEquals(8, c.spatialFactor());
        assertArrayEquals(new double[] {3.85, 2.32, 2.33, 3.06}, c.scale());
        assertEquals(15, c.latentFrames(51));
        assertEquals(20, c.latentFrames(68));
        assertEquals(30, c.latentFrames(102));
        assertEquals(10, c.latentFrames(34));
        assertEquals(12, c.latentFrames(40));
        assertThrows(IllegalArgumentException.class, () -> c.latentFrames(0));
    }

    @Test
    void realLayoutHasTheReferenceNamesAndShapes() {
        BlockLayout l = VaeLayout.of(VaeConfig.openSoraV12());
        Map<String, int[]> all = new java.util.HashMap<>();
        l.blocks().forEach(b -> all.putAll(b.tensors()));
        assertArrayEquals(new int[] {1, 4, 1, 1, 1}, all.get("scale"));
        assertArrayEquals(new int[] {4, 4, 1, 1, 1}, all.get("temporal_vae.post_quant_conv.conv.weight"));
        assertArrayEquals(new int[] {512, 4, 3, 3, 3}, all.get("temporal_vae.decoder.conv1.conv.weight"));
        assertArrayEquals(new int[] {512, 512, 3, 3, 3},
                all.get("temporal_vae.decoder.res_blocks.3.conv2.conv.weight"));
        assertArrayEquals(new int[] {1024, 512, 3, 3, 3}, all.get("temporal_vae.decoder.conv_blocks.2.conv.weight"));
        assertArrayEquals(new int[] {256, 512, 1, 1, 1},
                all.get("temporal_vae.decoder.block_res_blocks.2.0.conv3.conv.weight"));
        assertArrayEquals(new int[] {512, 256, 3, 3, 3}, all.get("temporal_vae.decoder.conv_blocks.1.conv.weight"));
        assertFalse(all.containsKey("temporal_vae.decoder.conv_blocks.0.conv.weight"), "level 1 has no time upsampling");
        assertArrayEquals(new int[] {128, 256, 1, 1, 1},
                all.get("temporal_vae.decoder.block_res_blocks.0.0.conv3.conv.weight"));
        assertArrayEquals(new int[] {4, 128, 3, 3, 3}, all.get("temporal_vae.decoder.conv_out.conv.weight"));
        assertArrayEquals(new int[] {512, 4, 3, 3}, all.get("spatial_vae.module.decoder.conv_in.weight"));
        assertArrayEquals(new int[] {512, 512},
                all.get("spatial_vae.module.decoder.mid_block.attentions.0.to_out.0.weight"));
        assertTrue(all.containsKey("spatial_vae.module.decoder.up_blocks.0.resnets.2.conv2.weight"));
        assertArrayEquals(new int[] {256, 512, 1, 1},
                all.get("spatial_vae.module.decoder.up_blocks.2.resnets.0.conv_shortcut.weight"));
        assertTrue(all.containsKey("spatial_vae.module.decoder.up_blocks.2.upsamplers.0.conv.weight"));
        assertFalse(all.containsKey("spatial_vae.module.decoder.up_blocks.3.upsamplers.0.conv.weight"));
        assertArrayEquals(new int[] {3, 128, 3, 3}, all.get("spatial_vae.module.decoder.conv_out.weight"));
        // 4 + 2·4·... : every tensor of the decode path, counted
        long params = l.float32Bytes() / 4;
        System.out.println("OpenSora-VAE-v1.2 decode path: " + all.size() + " tensors, " + params + " parameters");
        assertTrue(params > 150_000_000L && params < 400_000_000L, "parameters " + params);
    }

    @Test
    void realEncoderLayoutHasTheReferenceNamesAndFillsTheRealFile() {
        VaeConfig cfg = VaeConfig.openSoraV12();
        BlockLayout l = VaeLayout.encoder(cfg);
        Map<String, int[]> all = new java.util.HashMap<>();
        l.blocks().forEach(b -> all.putAll(b.tensors()));
        assertArrayEquals(new int[] {128, 3, 3, 3}, all.get("spatial_vae.module.encoder.conv_in.weight"));
        assertArrayEquals(new int[] {256, 128, 1, 1},
                all.get("spatial_vae.module.encoder.down_blocks.1.resnets.0.conv_shortcut.weight"));
        assertArrayEquals(new int[] {512, 512, 3, 3},
                all.get("spatial_vae.module.encoder.down_blocks.2.downsamplers.0.conv.weight"));
        assertFalse(all.containsKey("spatial_vae.module.encoder.down_blocks.3.downsamplers.0.conv.weight"));
        assertTrue(all.containsKey("spatial_vae.module.encoder.down_blocks.3.resnets.1.conv2.weight"));
        assertArrayEquals(new int[] {8, 512, 3, 3}, all.get("spatial_vae.module.encoder.conv_out.weight"));
        assertArrayEquals(new int[] {8, 8, 1, 1}, all.get("spatial_vae.module.quant_conv.weight"));
        assertArrayEquals(new int[] {128, 4, 3, 3, 3}, all.get("temporal_vae.encoder.conv_in.conv.weight"));
        assertFalse(all.containsKey("temporal_vae.encoder.conv_in.conv.bias"), "conv_in has no bias");
        assertFalse(all.containsKey("temporal_vae.encoder.conv_blocks.0.conv.weight"), "level 0 keeps time");
        assertArrayEquals(new int[] {256, 256, 3, 3, 3}, all.get("temporal_vae.encoder.conv_blocks.1.conv.weight"));
        assertArrayEquals(new int[] {256, 256, 3, 3, 3}, all.get("temporal_vae.encoder.conv_blocks.2.conv.weight"));
        assertArrayEquals(new int[] {512, 256, 1, 1, 1},
                all.get("temporal_vae.encoder.block_res_blocks.3.0.conv3.conv.weight"));
        assertArrayEquals(new int[] {8, 512, 1, 1, 1}, all.get("temporal_vae.encoder.conv2.conv.weight"));
        assertArrayEquals(new int[] {8, 8, 1, 1, 1}, all.get("temporal_vae.quant_conv.conv.weight"));
        // decode path + encode path (scale and shift are in both) fill the real model.safetensors of
        // 1,573,430,548 bytes (SPEC 5.6) but for its header: 8-byte length + JSON of 100–200 bytes per tensor
        long floats = (VaeLayout.of(cfg).float32Bytes() + l.float32Bytes()) / 4 - 2 * 4;
        long header = 1_573_430_548L - 4 * floats;
        int tensors = all.size() + VaeLayout.of(cfg).blocks().stream().mapToInt(b -> b.tensors().size()).sum() - 2;
        System.out.println("OpenSora-VAE-v1.2 encode path: " + all.size() + " tensors, " + l.float32Bytes() / 4
                + " parameters; the real file's header would be " + header + " bytes for " + tensors + " tensors");
        assertTrue(header > 100L * tensors && header < 200L * tensors, "header " + header + " bytes");
    }

    @Test
    void demoModelConfigWithInlineAutoencoderKl() throws IOException {
        VaeConfig c = VaeConfig.parse(resource("demo_vae_config.json"));
        assertArrayEquals(new int[] {16, 32, 64, 64}, c.spatial().blockOutChannels());
        assertEquals(1, c.spatial().layersPerBlock());
        assertEquals(8, c.spatial().normGroups());
        assertEquals(16, c.temporal().filters());
        assertArrayEquals(new int[] {1, 2, 2, 2}, c.temporal().channelMultipliers());
        assertEquals(8, c.temporal().numGroups());
        assertEquals(5, c.latentFramesPerChunk());
        assertEquals(0.7297078967094421, c.scale()[0]);
    }

    @Test
    void compactTestLayoutAndErrors() {
        VaeConfig c = VaeDecodeTest.smallConfig();
        assertArrayEquals(new int[] {4, 8, 8}, c.spatial().blockOutChannels());
        assertEquals(4, c.spatialFactor());
        assertEquals(null, c.scale());
        String bad = VaeDecodeTest.SMALL_CONFIG.replace("\"num_groups\": 2", "\"num_groups\": 3");
        String m = assertThrows(WeightFormatException.class, () -> VaeConfig.parse(ModelConfig.parse("bad", bad)))
                .getMessage();
        assertTrue(m.contains("num_groups 3"), m);
        String td = VaeDecodeTest.SMALL_CONFIG.replace("[false, true, true]", "[true]");
        m = assertThrows(WeightFormatException.class, () -> VaeConfig.parse(ModelConfig.parse("td", td)))
                .getMessage();
        assertTrue(m.contains("temporal_downsample needs 3"), m);
        m = assertThrows(WeightFormatException.class, () -> VaeConfig.parse(ModelConfig.parse("x", "{\"a\": 1}")))
                .getMessage();
        assertTrue(m.contains("not a VideoAutoencoderPipeline config"), m);
        String nullMicro = VaeDecodeTest.SMALL_CONFIG.replace("\"micro_frame_size\": 17", "\"micro_frame_size\": null");
        m = assertThrows(WeightFormatException.class, () -> VaeConfig.parse(ModelConfig.parse("m", nullMicro)))
                .getMessage();
        assertTrue(m.contains("micro_frame_size"), m);
    }
}
