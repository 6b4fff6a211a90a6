package io.github.jsora.video;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The one entry point for writing videos: picks the writer from the output path and checks the output location
 * before any expensive work starts.
 *
 * <p>Safety rules shared by all writers: an existing output is never replaced unless {@code overwrite} is true
 * ({@link java.nio.file.FileAlreadyExistsException}); a missing output directory
 * ({@link java.nio.file.NoSuchFileException}), a path through a regular file
 * ({@link java.nio.file.NotDirectoryException}) or an unwritable directory
 * ({@link java.nio.file.AccessDeniedException}) fail right here, each naming the path; data go to a temporary
 * name beside the target and are moved into place only by {@link FrameSink#finish()}, so a failed or cancelled
 * run leaves nothing under the target name. A PNG directory is replaced only if it is empty or holds nothing but
 * files this writer makes.
 */
public final class VideoWriters {

    private VideoWriters() {
    }

    /**
     * A writer for {@code path} given as text (keeps a trailing '/' meaning "PNG frames into this directory").
     *
     * @param path      the output path as typed: {@code .mp4}, {@code .gif}, {@code .avi}, or a directory ending
     *                  in '/'
     * @param overwrite replace an existing output
     * @return a writer that has checked the output location
     * @throws IOException if the output cannot be written (see the class comment)
     * @throws IllegalArgumentException for an unsupported extension
     * @see VideoFormat#of(String)
     */
    public static FrameSink forPath(String path, boolean overwrite) throws IOException {
        return create(VideoFormat.of(path), Path.of(path), overwrite);
    }

    /**
     * A writer for {@code path}: {@code .mp4}, {@code .gif}, {@code .avi}, or an existing directory for PNG frames.
     *
     * @param path      the output path
     * @param overwrite replace an existing output
     * @return a writer that has checked the output location
     * @throws IOException if the output cannot be written (see the class comment)
     * @throws IllegalArgumentException for an unsupported extension
     */
    public static FrameSink forPath(Path path, boolean overwrite) throws IOException {
        return create(VideoFormat.of(path), path, overwrite);
    }

    /**
     * A writer of the given format to {@code path}, whatever its extension (the explicit way to ask for PNG frames
     * in a new directory).
     *
     * @param format    the format
     * @param path      the output file, or the directory for {@link VideoFormat#PNG_SEQUENCE}
     * @param overwrite replace an existing output
     * @return a writer that has checked the output location
     * @throws IOException if the output cannot be written (see the class comment)
     */
    public static FrameSink create(VideoFormat format, Path path, boolean overwrite) throws IOException {
        return switch (format) {
            case GIF -> new GifWriter(path, overwrite);
            case AVI_MJPEG -> new AviMjpegWriter(path, overwrite);
            case MP4 -> new Mp4Writer(path, overwrite);
            case PNG_SEQUENCE -> new PngSequenceWriter(path, overwrite);
        };
    }
}
