package io.github.jsora.video;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

import io.github.jsora.weights.FileCommit;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where a writer's output goes, and the rules that keep it safe: never replace an existing output unless asked,
 * fail early (before any generation work) on a missing or unwritable directory, write everything under a hidden
 * temporary name in the target's own directory and move it into place only when complete.
 *
 * <p>Errors are the standard typed {@link FileSystemException}s, each naming the offending path:
 * {@link FileAlreadyExistsException} (output exists), {@link NoSuchFileException} (directory missing),
 * {@link NotDirectoryException} (a path component is a regular file), {@link AccessDeniedException} (directory not
 * writable).
 */
final class OutputTarget {

    private static final Logger LOG = LoggerFactory.getLogger(OutputTarget.class);

    private final Path target;
    private final boolean overwrite;
    private final boolean directory;
    private final Predicate<String> ownEntry; // names a replaced output directory may hold

    private OutputTarget(Path target, boolean overwrite, boolean directory, Predicate<String> ownEntry) {
        this.target = target;
        this.overwrite = overwrite;
        this.directory = directory;
        this.ownEntry = ownEntry;
    }

    /** A single output file; checks the directory and an existing file now. */
    static OutputTarget file(Path target, boolean overwrite) throws IOException {
        Path t = target.toAbsolutePath().normalize();
        checkParent(t);
        if (Files.isDirectory(t)) {
            throw new FileAlreadyExistsException(t.toString(), null,
                    "is a directory; a video file cannot be written over it");
        }
        if (Files.exists(t, LinkOption.NOFOLLOW_LINKS) && !overwrite) {
            throw new FileAlreadyExistsException(t.toString(), null,
                    "output file exists; not overwritten unless overwrite is requested");
        }
        return new OutputTarget(t, overwrite, false, n -> false);
    }

    /**
     * An output directory. An existing empty directory is reused. A non-empty one is replaced only with
     * {@code overwrite}, and only if every entry in it satisfies {@code ownEntry} (names this writer produces), so
     * that a mistyped path can never delete unrelated files.
     */
    static OutputTarget directory(Path target, boolean overwrite, Predicate<String> ownEntry) throws IOException {
        Path t = target.toAbsolutePath().normalize();
        checkParent(t);
        if (Files.exists(t, LinkOption.NOFOLLOW_LINKS)) {
            if (!Files.isDirectory(t, LinkOption.NOFOLLOW_LINKS)) {
                throw new FileAlreadyExistsException(t.toString(), null,
                        "exists and is not a directory; frames are written into a directory");
            }
            List<String> entries = list(t);
            if (!entries.isEmpty()) {
                if (!overwrite) {
                    throw new FileAlreadyExistsException(t.toString(), null,
                            "output directory exists and is not empty; not overwritten unless overwrite is requested");
                }
                for (String e : entries) {
                    if (!ownEntry.test(e)) {
                        throw new FileSystemException(t.toString(), null, "holds \"" + e
                                + "\", which is not a frame file of this writer; refusing to replace the directory");
                    }
                }
            }
        }
        return new OutputTarget(t, overwrite, true, ownEntry);
    }

    private static void checkParent(Path t) throws IOException {
        Path parent = t.getParent();
        if (parent == null) {
            throw new FileSystemException(t.toString(), null, "is a file system root, not an output path");
        }
        if (!Files.exists(parent)) {
            // Say whether a component is a regular file (e.g. out.gif/frames/) or simply missing.
            for (Path p = parent.getParent(); p != null; p = p.getParent()) {
                if (Files.exists(p)) {
                    if (!Files.isDirectory(p)) {
                        throw new NotDirectoryException(p + " (a path component of the output " + t
                                + ") is not a directory");
                    }
                    break;
                }
            }
            throw new NoSuchFileException(parent.toString(), null,
                    "output directory does not exist (for output " + t + ")");
        }
        if (!Files.isDirectory(parent)) {
            throw new NotDirectoryException(parent + " (parent of the output " + t + ") is not a directory");
        }
        if (!Files.isWritable(parent)) {
            throw new AccessDeniedException(parent.toString(), null,
                    "output directory is not writable (for output " + t + ")");
        }
    }

    private static List<String> list(Path dir) throws IOException {
        List<String> names = new ArrayList<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
            for (Path p : s) {
                names.add(p.getFileName().toString());
            }
        }
        return names;
    }

    /** The final output path (absolute). */
    Path target() {
        return target;
    }

    /**
     * Creates the temporary file or directory beside the target, named {@code .<name>.<random>.part}, with the
     * default permissions of new files (unlike {@link Files#createTempFile}, which makes them private).
     */
    Path createTemp() throws IOException {
        return FileCommit.createTemp(target, directory);
    }

    /** Moves the complete temporary output into place, honouring {@code overwrite}. */
    void commit(Path temp) throws IOException {
        if (!directory) {
            FileCommit.commitFile(temp, target, overwrite); // a hard link never replaces a file created meanwhile
            return;
        }
        if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            Files.move(temp, target);
            return;
        }
        List<String> entries = list(target);
        if (entries.isEmpty()) {
            Files.delete(target);
            Files.move(temp, target);
            return;
        }
        if (!overwrite) {
            throw new FileAlreadyExistsException(target.toString(), null,
                    "output directory was filled while writing; not overwritten");
        }
        for (String e : entries) {
            if (!ownEntry.test(e)) {
                throw new FileSystemException(target.toString(), null, "holds \"" + e
                        + "\", which is not a frame file of this writer; refusing to replace the directory");
            }
        }
        Path old = temp.resolveSibling(temp.getFileName() + ".old");
        Files.move(target, old);
        Files.move(temp, target);
        deleteTree(old);
    }

    /** Deletes the temporary output; never throws (the original failure matters more). */
    void discard(Path temp) {
        if (temp == null) {
            return;
        }
        try {
            deleteTree(temp);
        } catch (IOException e) {
            LOG.warn("could not delete temporary output {}: {}", temp, e.toString());
        }
    }

    /** Deletes a file, or a directory of plain files (the only trees the writers make). */
    private static void deleteTree(Path p) throws IOException {
        if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
            for (String e : list(p)) {
                Files.deleteIfExists(p.resolve(e));
            }
        }
        Files.deleteIfExists(p);
    }
}
