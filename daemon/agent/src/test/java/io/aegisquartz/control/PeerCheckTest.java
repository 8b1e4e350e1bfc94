package io.aegisquartz.control;

import jdk.net.UnixDomainPrincipal;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Who the control socket answers, decided from the kernel's peer credentials: root, the agent's user,
 * its group by primary group or by the group file's member list; nobody else. (ControlIT checks the
 * same against real processes of other users.)
 */
class PeerCheckTest {

    @TempDir
    Path dir;

    private final UserPrincipalLookupService names = Path.of("/").getFileSystem().getUserPrincipalLookupService();

    private UserPrincipal user(String name) throws Exception {
        return names.lookupPrincipalByName(name);
    }

    private GroupPrincipal group(String name) throws Exception {
        return names.lookupPrincipalByGroupName(name);
    }

    @Test
    void rootTheAgentsUserAndItsGroupAreAcceptedAndNobodyElse() throws Exception {
        Path groups = Files.writeString(dir.resolve("group"), "daemon:x:1:\nnogroup:x:65534:\n");
        // The agent runs as daemon:daemon here; nobody is in neither.
        PeerCheck check = new PeerCheck(user("root"), user("daemon"), group("daemon"), groups);

        assertNull(check.refusal(new UnixDomainPrincipal(user("root"), group("root"))));
        assertNull(check.refusal(new UnixDomainPrincipal(user("daemon"), group("nogroup"))), "its own user, whatever its group");
        assertNull(check.refusal(new UnixDomainPrincipal(user("nobody"), group("daemon"))), "its group as the primary one");
        String refusal = check.refusal(new UnixDomainPrincipal(user("nobody"), group("nogroup")));
        assertTrue(refusal != null && refusal.equals("user nobody (group nogroup) is neither root, daemon nor in group daemon"), refusal);
    }

    @Test
    void aMemberListedInTheGroupFileIsAccepted() throws Exception {
        Path groups = Files.writeString(dir.resolve("group"), "daemonish:x:7:nobody\ndaemon:x:1:bin,nobody,sys\n");
        PeerCheck check = new PeerCheck(user("root"), user("daemon"), group("daemon"), groups);

        assertNull(check.refusal(new UnixDomainPrincipal(user("nobody"), group("nogroup"))), "a supplementary member");
        Files.writeString(groups, "daemon:x:1:bin,sys,nobody2\nnobody:x:9:nobody\n");
        assertTrue(check.refusal(new UnixDomainPrincipal(user("nobody"), group("nogroup"))) != null,
                "a member of another group, or a name that only starts the same, is not one");
        Files.delete(groups);
        assertTrue(check.refusal(new UnixDomainPrincipal(user("nobody"), group("nogroup"))) != null, "no group file: no members");
    }
}
