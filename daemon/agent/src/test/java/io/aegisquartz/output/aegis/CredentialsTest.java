package io.aegisquartz.output.aegis;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The credentials file: format, permission and owner checks, and a secret that never shows. */
class CredentialsTest {

    static final String SECRET = "s3cr3t-Never-Print-Me-7f2a";

    @TempDir
    Path dir;

    private Path write(String name, String text, String mode) throws Exception {
        Path f = dir.resolve(name);
        Files.writeString(f, text);
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString(mode));
        return f;
    }

    @Test
    void loadsAPrivateFileAndMasksTheSecretInToString() throws Exception {
        Path f = write("c.ini", "# agent key\n[credentials]\naccess_key_id = AK1\naccess_key_secret = " + SECRET
                + "\nbearer_token = tok-123\n", "rw-------");
        Credentials c = Credentials.load(f);
        assertEquals("AK1", c.accessKeyId());
        assertEquals(SECRET, c.accessKeySecret());
        assertEquals("tok-123", c.bearerToken());
        assertEquals(f, c.file());
        assertTrue(c.toString().contains("AK1"), c.toString());
        assertFalse(c.toString().contains(SECRET), c.toString());
        assertFalse(c.toString().contains("tok-123"), c.toString());

        Path readOnly = write("r.ini", "[credentials]\naccess_key_id = AK2\naccess_key_secret = x\n", "r--------");
        Credentials r = Credentials.load(readOnly);
        assertNull(r.bearerToken());
        assertEquals("x", r.accessKeySecret());
    }

    @Test
    void groupOrWorldReadableFileIsRefusedWithTheChmodFix() throws Exception {
        Path f = write("c.ini", "[credentials]\naccess_key_id = AK1\naccess_key_secret = " + SECRET + "\n", "rw-r--r--");
        CredentialsException e = assertThrows(CredentialsException.class, () -> Credentials.load(f));
        assertTrue(e.getMessage().contains("chmod 600 " + f), e.getMessage());
        assertTrue(e.getMessage().contains("0644"), e.getMessage());
        assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
        assertFalse(e.getMessage().contains(SECRET));

        Path g = write("g.ini", "[credentials]\naccess_key_id = AK1\naccess_key_secret = x\n", "rw--w----");
        CredentialsException eg = assertThrows(CredentialsException.class, () -> Credentials.load(g));
        assertTrue(eg.getMessage().contains("0620") && eg.getMessage().contains("chmod 600"), eg.getMessage());
    }

    @Test
    void fileOwnedBySomeoneElseIsRefusedWithTheChownFix() throws Exception {
        // Only root can give a file away; elsewhere this check cannot be set up.
        assumeTrue(System.getProperty("user.name").equals("root"), "needs root to chown");
        Path f = write("c.ini", "[credentials]\naccess_key_id = AK1\naccess_key_secret = " + SECRET + "\n", "rw-------");
        UserPrincipal nobody = f.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("nobody");
        Files.setOwner(f, nobody);
        CredentialsException e = assertThrows(CredentialsException.class, () -> Credentials.load(f));
        assertTrue(e.getMessage().contains("owned by nobody"), e.getMessage());
        assertTrue(e.getMessage().contains("chown root " + f), e.getMessage());
        assertFalse(e.getMessage().contains(SECRET));
    }

    @Test
    void parseErrorsNameTheLineButNeverQuoteIt() throws Exception {
        // A ':' instead of '=': IniFile would quote the whole line, secret included.
        Path f = write("c.ini", "[credentials]\naccess_key_id = AK1\naccess_key_secret: " + SECRET + "\n", "rw-------");
        CredentialsException e = assertThrows(CredentialsException.class, () -> Credentials.load(f));
        assertTrue(e.getMessage().startsWith(f + ":3:1:"), e.getMessage());
        assertFalse(e.getMessage().contains(SECRET), e.getMessage());

        Path q = write("q.ini", "[credentials]\naccess_key_id = AK1\naccess_key_secret = \"" + SECRET + "\" trailing\n", "rw-------");
        CredentialsException eq = assertThrows(CredentialsException.class, () -> Credentials.load(q));
        assertFalse(eq.getMessage().contains(SECRET), eq.getMessage());
    }

    @Test
    void missingOrUnknownKeysAndOtherFilesAreRefused() throws Exception {
        Path noSecret = write("a.ini", "[credentials]\naccess_key_id = AK1\n", "rw-------");
        assertTrue(assertThrows(CredentialsException.class, () -> Credentials.load(noSecret)).getMessage()
                .contains("access_key_secret is missing"));
        Path unknown = write("b.ini", "[credentials]\naccess_key_id = AK1\naccess_key_secret = x\nsecret_key = y\n", "rw-------");
        assertTrue(assertThrows(CredentialsException.class, () -> Credentials.load(unknown)).getMessage()
                .contains(unknown + ":4: unknown key 'secret_key'"));
        Path badId = write("c.ini", "[credentials]\naccess_key_id = AK 1\naccess_key_secret = x\n", "rw-------");
        assertTrue(assertThrows(CredentialsException.class, () -> Credentials.load(badId)).getMessage().contains("access_key_id must be"));
        assertTrue(assertThrows(CredentialsException.class, () -> Credentials.load(dir.resolve("none.ini"))).getMessage()
                .contains("not found"));
        Path sub = Files.createDirectory(dir.resolve("d"));
        Files.setPosixFilePermissions(sub, PosixFilePermissions.fromString("rwx------"));
        assertTrue(assertThrows(CredentialsException.class, () -> Credentials.load(sub)).getMessage().contains("not a regular file"));
    }
}
