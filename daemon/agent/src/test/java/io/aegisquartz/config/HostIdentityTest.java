package io.aegisquartz.config;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** conf/uuid: derived from the machine once, then never changed. Real files stand in for /sys and /etc. */
class HostIdentityTest {

    private static final String DMI = "4C4C4544-0042-3510-8050-B4C04F4B4B32";
    private static final String MACHINE_ID = "0123456789abcdef0123456789abcdef";

    @TempDir
    Path dir;

    private Path file;
    private Path dmi;
    private Path machineId;

    @BeforeEach
    void paths() {
        file = dir.resolve("conf-uuid");
        dmi = dir.resolve("product_uuid");
        machineId = dir.resolve("machine-id");
    }

    private HostIdentity.Id load() throws IOException {
        return HostIdentity.loadOrCreate(file, dmi, machineId);
    }

    /** Directory entries other than the stand-ins, so a leftover temporary file shows up. */
    private List<String> created() throws IOException {
        try (var s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString())
                    .filter(n -> !n.equals("product_uuid") && !n.equals("machine-id")).sorted().toList();
        }
    }

    @Test
    void dmiProductUuidIsPreferredAndLowerCased() throws IOException {
        Files.writeString(dmi, DMI + "\n");
        Files.writeString(machineId, MACHINE_ID + "\n");
        HostIdentity.Id id = load();
        assertEquals(new HostIdentity.Id("4c4c4544-0042-3510-8050-b4c04f4b4b32", "created from " + dmi), id);
        assertEquals("4c4c4544-0042-3510-8050-b4c04f4b4b32\n", Files.readString(file));
        assertEquals(List.of("conf-uuid"), created());
    }

    @Test
    void allZeroDmiIsIgnoredForMachineId() throws IOException {
        Files.writeString(dmi, "00000000-0000-0000-0000-000000000000\n");
        Files.writeString(machineId, MACHINE_ID + "\n");
        HostIdentity.Id id = load();
        assertEquals(new HostIdentity.Id("01234567-89ab-cdef-0123-456789abcdef", "created from " + machineId), id);
        assertEquals("01234567-89ab-cdef-0123-456789abcdef\n", Files.readString(file));
    }

    @Test
    void allFDmiIsIgnored() throws IOException {
        Files.writeString(dmi, "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF");
        Files.writeString(machineId, MACHINE_ID);
        assertEquals("01234567-89ab-cdef-0123-456789abcdef", load().uuid());
    }

    @Test
    void malformedDmiIsIgnored() throws IOException {
        Files.writeString(dmi, "Not Settable\n");
        Files.writeString(machineId, MACHINE_ID);
        assertEquals("01234567-89ab-cdef-0123-456789abcdef", load().uuid());
    }

    @Test
    void machineIdIsFormattedAsUuidWhenDmiIsMissing() throws IOException {
        Files.writeString(machineId, "FEDCBA9876543210FEDCBA9876543210\n");
        assertEquals(new HostIdentity.Id("fedcba98-7654-3210-fedc-ba9876543210", "created from " + machineId), load());
    }

    @Test
    void randomUuidWhenNothingIsReadable() throws IOException {
        Files.writeString(machineId, "00000000000000000000000000000000\n");
        HostIdentity.Id id = load();
        assertEquals("created from a random UUID (no DMI product UUID or machine-id readable)", id.origin());
        assertEquals(4, UUID.fromString(id.uuid()).version());
        assertEquals(id.uuid() + "\n", Files.readString(file));
        // Read back on the next start, not drawn again.
        assertEquals(new HostIdentity.Id(id.uuid(), file.toString()), load());
    }

    @Test
    void randomFallbackDiffersBetweenHosts() throws IOException {
        String first = load().uuid();
        Files.delete(file);
        assertNotEquals(first, load().uuid());
    }

    @Test
    void existingFileIsReadAndNeverChanged() throws IOException {
        byte[] before = "  3D1219C7-C4C5-404A-AA1F-6D2A48ADFDA4  \n\n".getBytes(StandardCharsets.US_ASCII);
        Files.write(file, before);
        Files.writeString(dmi, DMI);
        Files.writeString(machineId, MACHINE_ID);
        HostIdentity.Id id = load();
        assertEquals(new HostIdentity.Id("3d1219c7-c4c5-404a-aa1f-6d2a48adfda4", file.toString()), id);
        assertArrayEquals(before, Files.readAllBytes(file));
        assertEquals(List.of("conf-uuid"), created());
    }

    @Test
    void createdFileIsStableAcrossLoads() throws IOException {
        Files.writeString(dmi, DMI);
        String created = load().uuid();
        // The machine's ids change (new board): the stored identity does not.
        Files.writeString(dmi, "11111111-2222-3333-4444-555555555555");
        assertEquals(new HostIdentity.Id(created, file.toString()), load());
        assertEquals(created + "\n", Files.readString(file));
    }

    @Test
    void garbageInExistingFileIsAnErrorNamingTheFile() throws IOException {
        Files.writeString(file, "hello world\n");
        Files.writeString(dmi, DMI);
        IOException e = assertThrows(IOException.class, this::load);
        assertEquals(file + ": not a UUID ('hello world'); it is the host's identity, so it is never rewritten "
                + "automatically (fix: restore the old value, or delete the file to derive a new identity from the machine)",
                e.getMessage());
        assertEquals("hello world\n", Files.readString(file));
    }

    @Test
    void aDirectoryWhereTheFileShouldBeIsNamedWithItsPath() throws IOException {
        // Was "Is a directory", from the JDK, with no path.
        Files.createDirectory(file);
        IOException e = assertThrows(IOException.class, this::load);
        assertEquals(file + ": this is a directory; the host identity is a file (fix: remove the directory, or point [agent] uuid_file "
                + "at a file)", e.getMessage());
        assertEquals(file + ": this is a directory; the host identity is a file\n    fix: remove the directory, or point [agent] "
                + "uuid_file at a file", HostIdentity.problem(file).format(), "check-config says the same");
    }

    @Test
    void longGarbageIsAbbreviatedInTheMessage() throws IOException {
        Files.writeString(file, "x".repeat(100));
        IOException e = assertThrows(IOException.class, this::load);
        assertTrue(e.getMessage().startsWith(file + ": not a UUID ('" + "x".repeat(40) + "...')"), e.getMessage());
    }

    @Test
    void emptyExistingFileIsAnError() throws IOException {
        Files.writeString(file, "");
        Files.writeString(dmi, DMI);
        IOException e = assertThrows(IOException.class, this::load);
        assertTrue(e.getMessage().startsWith(file + ": not a UUID ('')"), e.getMessage());
        assertEquals("", Files.readString(file));
    }

    @Test
    void staleTemporaryFilesFromACrashAreNotMistakenForTheIdentity() throws IOException {
        // What a crash half-way through creating it leaves (this version's temporary name, and the older fixed one).
        Files.writeString(dir.resolve(".conf-uuid.5f3a.tmp"), "half-writ");
        Files.writeString(dir.resolve("conf-uuid.tmp"), "half-writ");
        Files.writeString(dmi, DMI);
        assertEquals("4c4c4544-0042-3510-8050-b4c04f4b4b32", load().uuid());
        assertEquals("4c4c4544-0042-3510-8050-b4c04f4b4b32\n", Files.readString(file));
        assertEquals(List.of(".conf-uuid.5f3a.tmp", "conf-uuid", "conf-uuid.tmp"), created(), "written whole; the crash's leftovers untouched");
    }
}
