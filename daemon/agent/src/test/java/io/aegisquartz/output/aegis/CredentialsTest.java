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

    /**
     * Issue 18.3: 'access_key_secret = abc ;def' used to sign with 'abc', the rest read as a comment.
     * Now a value followed by what INI reads as a comment is refused with its line and the fix
     * (quote it), without quoting the line; quoted, the secret is taken whole and signs as written.
     */
    @Test
    void aSecretWithBlankSemicolonOrHashIsRefusedWithItsLineOrTakenWholeWhenQuoted() throws Exception {
        String[] cut = {"abc ;def", "abc #def", "abc\t;def", SECRET + " ; looks like a comment"};
        for (int i = 0; i < cut.length; i++) {
            Path f = write("cut" + i + ".ini", "[credentials]\naccess_key_id = AK1\naccess_key_secret = " + cut[i] + "\n", "rw-------");
            CredentialsException e = assertThrows(CredentialsException.class, () -> Credentials.load(f), cut[i]);
            assertTrue(e.getMessage().startsWith(f + ":3: the value of access_key_secret has ';' or '#' after a blank"),
                    e.getMessage());
            assertTrue(e.getMessage().contains("access_key_secret = \"...\""), "the fix says how to quote: " + e.getMessage());
            assertFalse(e.getMessage().contains("abc") || e.getMessage().contains(SECRET), "the secret is never shown: " + e.getMessage());
        }
        Path token = write("t.ini", "[credentials]\naccess_key_id = AK1\naccess_key_secret = x\nbearer_token = tok #2\n", "rw-------");
        assertTrue(assertThrows(CredentialsException.class, () -> Credentials.load(token)).getMessage()
                .startsWith(token + ":4: the value of bearer_token"));

        Path id = write("i.ini", "[credentials]\naccess_key_id = AK1 # the production key\naccess_key_secret = x\n", "rw-------");
        assertTrue(assertThrows(CredentialsException.class, () -> Credentials.load(id)).getMessage()
                .startsWith(id + ":2: the value of access_key_id"), "the rule holds for every key of the file");

        Path whole = write("w.ini", "[credentials]\n# a comment on its own line is fine\naccess_key_id = AK1\n"
                + "access_key_secret = \"abc ;def\"   ; a comment after a quoted value is unambiguous\n", "rw-------");
        Credentials c = Credentials.load(whole);
        assertEquals("abc ;def", c.accessKeySecret());
        String toSign = RequestSigning.stringToSign("POST", "/aegis/v1/samples", 1_795_311_180L, RequestSigning.newNonce(),
                RequestSigning.sha256Hex(new byte[0]), "0192f5a8-7c3e-7d21-9b4a-3f1e2d5c6b7a");
        assertTrue(RequestSigning.verify("abc ;def", toSign, RequestSigning.sign(c.accessKeySecret(), toSign)),
                "signs with the secret as written");
        Path escaped = write("e.ini", "[credentials]\naccess_key_id = AK1\naccess_key_secret = \"a\\\"b\\\\c #d\"\n", "rw-------");
        assertEquals("a\"b\\c #d", Credentials.load(escaped).accessKeySecret());
        Path noBlank = write("n.ini", "[credentials]\naccess_key_id = AK1\naccess_key_secret = abc;def#ghi\n", "rw-------");
        assertEquals("abc;def#ghi", Credentials.load(noBlank).accessKeySecret(), "';' or '#' without a blank before it is the value");
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
