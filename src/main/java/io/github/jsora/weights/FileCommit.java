package io.github.jsora.weights;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;

/**
 * The one way jsora puts a finished file in place (videos, latents, converted checkpoints): the content is written
 * to a hidden temporary sibling {@code .<name>.<random>.part} created with the default permissions of new files
 * (the umask applies, as for any file a program creates), then committed under the target name.
 *
 * <p>Without {@code overwrite} the commit is a hard link of the temporary file to the target name, which the file
 * system refuses atomically when the name exists (link(2) never replaces), so a file created by someone else
 * between jsora's early check and the commit is never lost: the commit fails with a
 * {@link FileAlreadyExistsException} instead. On a file system without hard links the target name is reserved with
 * an exclusive create (O_EXCL) and the complete file renamed over the reservation. With {@code overwrite} the
 * temporary file is renamed over the target (atomically where the file system can).
 */
public final class FileCommit {

    private static final SecureRandom RANDOM = new SecureRandom();

    private FileCommit() {
    }

    /** Creates the empty temporary file (or directory) beside {@code target}. */
    public static Path createTemp(Path target, boolean directory) throws IOException {
        Path t = target.toAbsolutePath();
        Path parent = t.getParent();
        for (int attempt = 0; ; attempt++) {
            Path p = parent.resolve("." + t.getFileName() + "." + Long.toUnsignedString(RANDOM.nextLong(), 36)
                    + ".part");
            try {
                return directory ? Files.createDirectory(p) : Files.createFile(p);
            } catch (FileAlreadyExistsException e) {
                if (attempt > 10) {
                    throw e;
                }
            } catch (AccessDeniedException e) {
                throw new AccessDeniedException(parent.toString(), null,
                        "cannot create a file in the output directory (for output " + t + ")");
            }
        }
    }

    /**
     * Puts the complete file {@code temp} in place as {@code target}; {@code temp} is gone afterwards unless this
     * throws (the caller discards it then).
     *
     * @throws FileAlreadyExistsException when {@code target} exists and {@code overwrite} is false (also when it was
     *                                    created after any earlier check)
     */
    public static void commitFile(Path temp, Path target, boolean overwrite) throws IOException {
        if (overwrite) {
            try {
                Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            return;
        }
        try {
            Files.createLink(target, temp);
        } catch (FileAlreadyExistsException e) {
            throw exists(target);
        } catch (UnsupportedOperationException | FileSystemException e) {
            if (e instanceof AccessDeniedException) {
                throw (AccessDeniedException) e;
            }
            // no hard links here: reserve the name exclusively, then rename the complete file over the reservation
            try {
                Files.createFile(target);
            } catch (FileAlreadyExistsException ex) {
                throw exists(target);
            }
            try {
                Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException ex) {
                Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            return;
        }
        Files.delete(temp);
    }

    private static FileAlreadyExistsException exists(Path target) {
        return new FileAlreadyExistsException(target.toString(), null,
                "output file exists (created while writing); not overwritten unless overwrite is requested");
    }
}
