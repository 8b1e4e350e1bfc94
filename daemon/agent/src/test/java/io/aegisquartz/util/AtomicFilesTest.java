package io.aegisquartz.util;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AtomicFilesTest {

    @TempDir
    Path dir;

    private List<String> names() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void writeReplacesWholeAndLeavesNoTemporaryFileBehind() throws Exception {
        Path f = dir.resolve("state");
        AtomicFiles.write(f, "one".getBytes());
        AtomicFiles.write(f, "two, longer".getBytes());
        assertEquals("two, longer", Files.readString(f));
        assertEquals(List.of("state"), names());
    }

    @Test
    void concurrentWritersOfOneTargetEachLeaveAWholeVersion() throws Exception {
        Path f = dir.resolve("entry");
        ExecutorService pool = Executors.newFixedThreadPool(4);
        List<Future<?>> fs = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            byte[] content = ("writer-" + t + "-").repeat(2000).getBytes();
            fs.add(pool.submit(() -> {
                for (int i = 0; i < 25; i++) {
                    AtomicFiles.write(f, content);
                }
                return null;
            }));
        }
        for (Future<?> x : fs) {
            x.get();
        }
        pool.shutdown();
        String text = Files.readString(f);
        assertTrue(text.matches("(writer-\\d-){2000}") && text.equals(text.substring(0, 9).repeat(2000)), "one writer's whole content");
        assertEquals(List.of("entry"), names());
    }

    @Test
    void permissionsAreThoseAskedForFromTheStart() throws Exception {
        Path f = dir.resolve("secret");
        AtomicFiles.write(f, "x".getBytes(), PosixFilePermissions.fromString("rw-------"));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(f)));
    }

    @Test
    void createNewNeverReplacesAnExistingFile() throws Exception {
        Path f = dir.resolve("uuid");
        assertTrue(AtomicFiles.createNew(f, "first\n".getBytes()));
        assertFalse(AtomicFiles.createNew(f, "second\n".getBytes()));
        assertEquals("first\n", Files.readString(f));
        assertEquals(List.of("uuid"), names());
    }

    @Test
    void aFailedWriteLeavesTheOldFileAndNoTemporary() throws Exception {
        Path f = dir.resolve("kept");
        AtomicFiles.write(f, "old".getBytes());
        Path notADir = dir.resolve("kept").resolve("child");
        assertThrows(IOException.class, () -> AtomicFiles.write(notADir, "new".getBytes()));
        assertArrayEquals("old".getBytes(), Files.readAllBytes(f));
        assertEquals(List.of("kept"), names());
    }

    @Test
    void commitPutsAnotherProgramsFileInPlace() throws Exception {
        Path temp = dir.resolve("made-by-keytool.tmp");
        Files.writeString(temp, "pem");
        Path target = dir.resolve("cert.pem");
        AtomicFiles.commit(temp, target);
        assertEquals("pem", Files.readString(target));
        assertEquals(List.of("cert.pem"), names());
    }
}
