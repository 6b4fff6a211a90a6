package io.github.jsora.dit;

/**
 * The correspondence between a volume [B, C, T, H, W] and the token rows of its patch grid, the one index map behind
 * both the patch embedding and the unpatchify of the final layer.
 *
 * <p>Token rows are [(b, t', h', w'), C·pv] with t' = t / pt, h' = h / ph, w' = w / pw (so a volume whose sizes are not
 * multiples of the patch is padded at the end of each axis), and within a row the patch element
 * p = ((t % pt)·ph + h % ph)·pw + w % pw of channel c sits at column c·pv + p ({@linkplain #channelMajor channel
 * major}, the layout of {@code x_embedder.proj.weight} [C_hidden, C_in, pt, ph, pw]) or p·C + c ({@linkplain
 * #channelMinor channel minor}, the (pt, ph, pw, c) layout of the final layer's output).
 */
final class PatchGrid {

    private PatchGrid() {
    }

    /** Index map of the patch embedding's input rows (channel-major columns). */
    static int[] channelMajor(InputGeometry g, int channels, Stdit3Config cfg) {
        return index(g, channels, cfg, true);
    }

    /** Index map of the final layer's output rows (channel-minor columns). */
    static int[] channelMinor(InputGeometry g, int channels, Stdit3Config cfg) {
        return index(g, channels, cfg, false);
    }

    /**
     * For every element of the volume [B, channels, T, H, W], in row-major order, its position in the token rows
     * [B·Tp·S, channels·pv].
     */
    private static int[] index(InputGeometry g, int channels, Stdit3Config cfg, boolean channelMajor) {
        int pt = cfg.patchT();
        int ph = cfg.patchH();
        int pw = cfg.patchW();
        int pv = pt * ph * pw;
        int width = channels * pv;
        int[] idx = new int[Math.toIntExact((long) g.b * channels * g.t * g.h * g.w)];
        for (int b = 0; b < g.b; b++) {
            for (int ch = 0; ch < channels; ch++) {
                for (int ti = 0; ti < g.t; ti++) {
                    for (int hi = 0; hi < g.h; hi++) {
                        int vol = (((b * channels + ch) * g.t + ti) * g.h + hi) * g.w;
                        long rowBase = ((long) (b * g.tp + ti / pt) * g.hp + hi / ph) * g.wp;
                        int patchBase = ((ti % pt) * ph + hi % ph) * pw;
                        for (int wi = 0; wi < g.w; wi++) {
                            int p = patchBase + wi % pw;
                            int col = channelMajor ? ch * pv + p : p * channels + ch;
                            idx[vol + wi] = Math.toIntExact((rowBase + wi / pw) * width + col);
                        }
                    }
                }
            }
        }
        return idx;
    }
}
