package io.github.jsora.video;

import java.io.ByteArrayOutputStream;

/**
 * The H.264 (ITU-T H.264 / ISO 14496-10) bitstream that {@link Mp4Writer} stores: Constrained Baseline profile,
 * 4:2:0 8-bit, every picture an IDR picture of one slice whose macroblocks are all {@code I_PCM}, i.e. raw YCbCr
 * samples. No prediction, no transform, no entropy-coded residual: the decoded picture is exactly the YCbCr the
 * writer converted, so quality is limited only by the RGB → YCbCr 4:2:0 conversion (BT.601, limited range, as
 * signalled in the VUI with sRGB primaries and transfer). Files are about 1.5 bytes per pixel per frame, several times larger than a lossy encoder
 * makes, in exchange for a small encoder that every H.264 decoder plays.
 *
 * <p>Pictures are padded to whole 16×16 macroblocks by repeating the last column and row; the SPS crops the
 * padding away, so width and height must be even (4:2:0 crops in steps of 2).
 */
final class Mp4WriterH264 {

    /** profile_idc of the Baseline profile (with constraint_set1: Constrained Baseline). */
    static final int PROFILE_BASELINE = 66;
    /** The constraint-flags byte of the SPS: constraint_set0 and constraint_set1 (Constrained Baseline). */
    static final int CONSTRAINTS = 0xC0;

    private final int width;
    private final int height;
    private final int mbW;
    private final int mbH;
    private final int level;
    private final byte[] sps;
    private final byte[] pps;
    // padded planes, reused for every picture
    private final byte[] y;
    private final byte[] cb;
    private final byte[] cr;
    private final ByteArrayOutputStream nal = new ByteArrayOutputStream();

    /**
     * An encoder for {@code width × height} pictures at {@code timeScale / (2 · unitsInTick)} frames per second
     * (the VUI timing convention for frame pictures).
     */
    Mp4WriterH264(int width, int height, long unitsInTick, long timeScale) {
        if ((width & 1) != 0 || (height & 1) != 0) {
            throw new IllegalArgumentException("H.264 4:2:0 video needs an even width and height, got " + width + "x"
                    + height);
        }
        this.width = width;
        this.height = height;
        this.mbW = (width + 15) / 16;
        this.mbH = (height + 15) / 16;
        double fps = timeScale / (2.0 * unitsInTick);
        this.level = level(mbW * mbH, fps);
        this.sps = nalUnit(3, 7, spsRbsp(unitsInTick, timeScale));
        this.pps = nalUnit(3, 8, ppsRbsp());
        this.y = new byte[mbW * 16 * mbH * 16];
        this.cb = new byte[mbW * 8 * mbH * 8];
        this.cr = new byte[mbW * 8 * mbH * 8];
    }

    /** The sequence parameter set NAL unit (without start code or length). */
    byte[] sps() {
        return sps.clone();
    }

    /** The picture parameter set NAL unit. */
    byte[] pps() {
        return pps.clone();
    }

    /** level_idc (10 × the level number) chosen for the picture size, frame rate and I_PCM bit rate. */
    int level() {
        return level;
    }

    // Level limits (Table A-1): level_idc, MaxFS (macroblocks), MaxMBPS (macroblocks/s), MaxBR (kbit/s, Baseline).
    private static final int[][] LEVELS = {
        {10, 99, 1485, 64}, {11, 396, 3000, 192}, {12, 396, 6000, 384}, {13, 396, 11880, 768},
        {20, 396, 11880, 2000}, {21, 792, 19800, 4000}, {22, 1620, 20250, 4000}, {30, 1620, 40500, 10000},
        {31, 3600, 108000, 14000}, {32, 5120, 216000, 20000}, {40, 8192, 245760, 20000},
        {41, 8192, 245760, 50000}, {42, 8704, 522240, 50000}, {50, 22080, 589824, 135000},
        {51, 36864, 983040, 240000}, {52, 36864, 2073600, 240000},
    };

    /** The smallest level whose limits hold the stream; the highest one if none does (decoders do not enforce it). */
    static int level(int macroblocks, double fps) {
        double mbps = macroblocks * fps;
        double kbps = macroblocks * 384 * 8 * fps / 1000; // 384 PCM bytes per macroblock
        for (int[] l : LEVELS) {
            if (macroblocks <= l[1] && mbps <= l[2] && kbps <= l[3]) {
                return l[0];
            }
        }
        return LEVELS[LEVELS.length - 1][0];
    }

    private byte[] spsRbsp(long unitsInTick, long timeScale) {
        Bits b = new Bits();
        b.u(8, PROFILE_BASELINE).u(8, CONSTRAINTS).u(8, level);
        b.ue(0);                                   // seq_parameter_set_id
        b.ue(0);                                   // log2_max_frame_num_minus4 (frame_num is always 0: all IDR)
        b.ue(2);                                   // pic_order_cnt_type 2: output order = decoding order
        b.ue(0);                                   // max_num_ref_frames: intra only
        b.u(1, 0);                                 // gaps_in_frame_num_value_allowed_flag
        b.ue(mbW - 1).ue(mbH - 1);                 // pic_width_in_mbs_minus1, pic_height_in_map_units_minus1
        b.u(1, 1);                                 // frame_mbs_only_flag
        b.u(1, 1);                                 // direct_8x8_inference_flag
        int cropRight = (mbW * 16 - width) / 2;
        int cropBottom = (mbH * 16 - height) / 2;
        boolean crop = cropRight != 0 || cropBottom != 0;
        b.u(1, crop ? 1 : 0);                      // frame_cropping_flag
        if (crop) {
            b.ue(0).ue(cropRight).ue(0).ue(cropBottom); // left, right, top, bottom in 2-pixel units (4:2:0)
        }
        b.u(1, 1);                                 // vui_parameters_present_flag
        b.u(1, 1).u(8, 1);                         // aspect_ratio_info_present_flag, aspect_ratio_idc 1 (square)
        b.u(1, 0);                                 // overscan_info_present_flag
        b.u(1, 1);                                 // video_signal_type_present_flag
        b.u(3, 5).u(1, 0);                         // video_format unspecified, video_full_range_flag 0 (limited)
        b.u(1, 1).u(8, 1).u(8, 13).u(8, 6);        // colour description: sRGB (BT.709) primaries, sRGB transfer,
                                                   // BT.601 matrix: the frames are sRGB images
        b.u(1, 0);                                 // chroma_loc_info_present_flag
        b.u(1, 1);                                 // timing_info_present_flag
        b.u(32, unitsInTick).u(32, timeScale).u(1, 1); // num_units_in_tick, time_scale, fixed_frame_rate_flag
        b.u(1, 0).u(1, 0);                         // nal / vcl HRD parameters absent
        b.u(1, 0);                                 // pic_struct_present_flag
        b.u(1, 1);                                 // bitstream_restriction_flag
        b.u(1, 1);                                 // motion_vectors_over_pic_boundaries_flag
        b.ue(0).ue(0);                             // max_bytes_per_pic_denom, max_bits_per_mb_denom: no limit
        b.ue(16).ue(16);                           // log2_max_mv_length_horizontal / vertical
        b.ue(0).ue(0);                             // max_num_reorder_frames, max_dec_frame_buffering: output at once
        return b.trailing();
    }

    private static byte[] ppsRbsp() {
        Bits b = new Bits();
        b.ue(0).ue(0);                             // pic_parameter_set_id, seq_parameter_set_id
        b.u(1, 0);                                 // entropy_coding_mode_flag: CAVLC
        b.u(1, 0);                                 // bottom_field_pic_order_in_frame_present_flag
        b.ue(0);                                   // num_slice_groups_minus1
        b.ue(0).ue(0);                             // num_ref_idx_l0/l1_default_active_minus1
        b.u(1, 0).u(2, 0);                         // weighted_pred_flag, weighted_bipred_idc
        b.se(0).se(0).se(0);                       // pic_init_qp_minus26, pic_init_qs_minus26, chroma_qp_index_offset
        b.u(1, 1);                                 // deblocking_filter_control_present_flag
        b.u(1, 0);                                 // constrained_intra_pred_flag
        b.u(1, 0);                                 // redundant_pic_cnt_present_flag
        return b.trailing();
    }

    /**
     * Encodes one frame as an IDR access unit: one coded-slice NAL unit (without start code or length prefix).
     * {@code idrPicId} must differ between consecutive pictures.
     */
    byte[] encode(Frame frame, int idrPicId) {
        toYCbCr(frame.data());
        Bits b = new Bits();
        b.ue(0);                                   // first_mb_in_slice
        b.ue(7);                                   // slice_type: I (and so are all slices of the picture)
        b.ue(0);                                   // pic_parameter_set_id
        b.u(4, 0);                                 // frame_num (log2_max_frame_num = 4)
        b.ue(idrPicId & 0xffff);                   // idr_pic_id
        b.u(1, 0).u(1, 0);                         // no_output_of_prior_pics_flag, long_term_reference_flag
        b.se(0);                                   // slice_qp_delta
        b.ue(1);                                   // disable_deblocking_filter_idc: off
        int yStride = mbW * 16;
        int cStride = mbW * 8;
        for (int my = 0; my < mbH; my++) {
            for (int mx = 0; mx < mbW; mx++) {
                b.ue(25);                          // mb_type I_PCM
                b.align();                         // pcm_alignment_zero_bits
                for (int r = 0; r < 16; r++) {
                    b.bytes(y, (my * 16 + r) * yStride + mx * 16, 16);
                }
                for (int r = 0; r < 8; r++) {
                    b.bytes(cb, (my * 8 + r) * cStride + mx * 8, 8);
                }
                for (int r = 0; r < 8; r++) {
                    b.bytes(cr, (my * 8 + r) * cStride + mx * 8, 8);
                }
            }
        }
        return nalUnit(3, 5, b.trailing());
    }

    /**
     * RGB → Y'CbCr, BT.601 limited range (Y' 16..235, Cb/Cr 16..240), chroma the mean of each 2×2 block, into the
     * padded planes.
     */
    private void toYCbCr(byte[] rgb) {
        int yStride = mbW * 16;
        int cStride = mbW * 8;
        int pw = mbW * 16;
        int ph = mbH * 16;
        // Fixed-point (×2^16) coefficients of Rec. ITU-R BT.601 scaled to limited range.
        for (int py = 0; py < ph; py += 2) {
            for (int px = 0; px < pw; px += 2) {
                long sumCb = 0;
                long sumCr = 0;
                for (int dy = 0; dy < 2; dy++) {
                    for (int dx = 0; dx < 2; dx++) {
                        int sx = Math.min(px + dx, width - 1);
                        int sy = Math.min(py + dy, height - 1);
                        int i = 3 * (sy * width + sx);
                        int r = rgb[i] & 0xff;
                        int g = rgb[i + 1] & 0xff;
                        int bl = rgb[i + 2] & 0xff;
                        int yy = (16829 * r + 33039 * g + 6416 * bl + (16 << 16) + (1 << 15)) >> 16;
                        y[(py + dy) * yStride + px + dx] = (byte) yy;
                        sumCb += -9714L * r - 19070L * g + 28784L * bl;
                        sumCr += 28784L * r - 24103L * g - 4681L * bl;
                    }
                }
                int c = (py / 2) * cStride + px / 2;
                cb[c] = (byte) clampChroma(128 + Math.floorDiv(sumCb + (2L << 16), 4L << 16));
                cr[c] = (byte) clampChroma(128 + Math.floorDiv(sumCr + (2L << 16), 4L << 16));
            }
        }
    }

    private static long clampChroma(long v) {
        return Math.max(16, Math.min(240, v));
    }

    /** A NAL unit: header byte, then the RBSP with emulation-prevention bytes inserted. */
    private byte[] nalUnit(int refIdc, int type, byte[] rbsp) {
        nal.reset();
        nal.write(refIdc << 5 | type);
        int zeros = 0;
        for (byte v : rbsp) {
            if (zeros == 2 && (v & 0xff) <= 3) {
                nal.write(3);
                zeros = 0;
            }
            nal.write(v);
            zeros = v == 0 ? zeros + 1 : 0;
        }
        return nal.toByteArray();
    }

    /** An MSB-first bit writer with Exp-Golomb codes. */
    static final class Bits {
        private byte[] buf = new byte[256];
        private int len;      // whole bytes written
        private long acc;     // pending bits, right-aligned
        private int nbits;    // number of pending bits (< 8 between calls)

        Bits u(int n, long v) {
            for (int i = n - 1; i >= 0; i--) {
                acc = acc << 1 | (v >>> i & 1);
                if (++nbits == 8) {
                    put((int) acc);
                    acc = 0;
                    nbits = 0;
                }
            }
            return this;
        }

        /** ue(v): unsigned Exp-Golomb. */
        Bits ue(long v) {
            long x = v + 1;
            int n = 64 - Long.numberOfLeadingZeros(x);
            u(n - 1, 0);
            return u(n, x);
        }

        /** se(v): signed Exp-Golomb. */
        Bits se(long v) {
            return ue(v > 0 ? 2 * v - 1 : -2 * v);
        }

        /** Zero bits up to the next byte boundary. */
        Bits align() {
            while (nbits != 0) {
                u(1, 0);
            }
            return this;
        }

        /** Whole bytes; the writer must be byte-aligned. */
        Bits bytes(byte[] src, int off, int n) {
            if (nbits != 0) {
                throw new IllegalStateException("not byte-aligned");
            }
            ensure(n);
            System.arraycopy(src, off, buf, len, n);
            len += n;
            return this;
        }

        /** rbsp_trailing_bits (a one, then zeros to the byte boundary) and the bytes. */
        byte[] trailing() {
            u(1, 1);
            align();
            return java.util.Arrays.copyOf(buf, len);
        }

        private void put(int v) {
            ensure(1);
            buf[len++] = (byte) v;
        }

        private void ensure(int n) {
            if (len + n > buf.length) {
                buf = java.util.Arrays.copyOf(buf, Math.max(2 * buf.length, len + n));
            }
        }
    }
}
