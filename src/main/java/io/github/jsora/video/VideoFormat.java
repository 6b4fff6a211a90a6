package io.github.jsora.video;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** The output formats, chosen from the output path. */
public enum VideoFormat {
    /** Animated GIF ({@code .gif}), see {@link GifWriter}. */
    GIF,
    /** Motion-JPEG in an AVI container ({@code .avi}), see {@link AviMjpegWriter}. */
    AVI_MJPEG,
    /** H.264 (yuv420p) in an MP4 container ({@code .mp4}, also {@code .m4v}), see {@link Mp4Writer}. */
    MP4,
    /** A directory of PNG frames (a path ending in '/' or an existing directory), see {@link PngSequenceWriter}. */
    PNG_SEQUENCE;

    /**
     * The format of a path given as text (e.g. a command-line argument): a trailing {@code /} (or the platform
     * separator) or an existing directory means {@link #PNG_SEQUENCE}; otherwise the extension, case-insensitive:
     * {@code .mp4} (or {@code .m4v}), {@code .gif}, {@code .avi}. A path without one of these extensions is never
     * taken for a directory to create: ask for PNG frames with a trailing '/' (or {@link #PNG_SEQUENCE} itself).
     *
     * @param path the output path as typed
     * @return the format
     * @throws IllegalArgumentException for any other path, naming it and the supported forms
     */
    public static VideoFormat of(String path) {
        if (path == null || path.isBlank()) {
            throw new IllegalArgumentException("output path is empty");
        }
        if (path.endsWith("/") || path.endsWith(File.separator)) {
            return PNG_SEQUENCE;
        }
        return of(Path.of(path));
    }

    /**
     * The format of {@code path}: an existing directory is {@link #PNG_SEQUENCE}, else by extension (see
     * {@link #of(String)}).
     *
     * @param path the output path
     * @return the format
     * @throws IllegalArgumentException for an unsupported extension, naming the path and the supported forms
     */
    public static VideoFormat of(Path path) {
        if (Files.isDirectory(path)) {
            return PNG_SEQUENCE;
        }
        Path name = path.getFileName();
        String n = name == null ? "" : name.toString().toLowerCase(Locale.ROOT);
        if (n.endsWith(".gif")) {
            return GIF;
        }
        if (n.endsWith(".avi")) {
            return AVI_MJPEG;
        }
        if (n.endsWith(".mp4") || n.endsWith(".m4v")) {
            return MP4;
        }
        throw new IllegalArgumentException("unsupported output \"" + path
                + "\": use a .mp4, .gif or .avi file, or a directory (ending in '/') for PNG frames");
    }
}
