package io.aegisquartz.control;

import jdk.net.UnixDomainPrincipal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.UserPrincipal;
import java.util.Arrays;

/**
 * Who may talk to the agent over its control socket: root, the agent's own user, and members of the
 * socket's group (the agent's group: {@code aegis-quartz} under the RPM), as the socket file's mode
 * 0660 already says. Checked again on every connection with the kernel's SO_PEERCRED, so that a
 * socket file whose mode was widened by someone still answers only them.
 *
 * <p>Group members are recognised by the peer's primary group (what SO_PEERCRED carries) or by the
 * member list of the group in {@code /etc/group}; members known only to another name service
 * (LDAP, SSSD) need the group as their primary one, or {@code runuser}/{@code sudo}.
 */
final class PeerCheck {

    private final UserPrincipal root;
    private final UserPrincipal self;
    private final GroupPrincipal group;
    private final Path groupFile;

    /**
     * @param self      the agent's user (the socket's owner)
     * @param group     the socket's group
     * @param groupFile where group member lists are read ({@code /etc/group})
     */
    PeerCheck(UserPrincipal root, UserPrincipal self, GroupPrincipal group, Path groupFile) {
        this.root = root;
        this.self = self;
        this.group = group;
        this.groupFile = groupFile;
    }

    /** Null if {@code peer} may connect, else why not, for the log. */
    String refusal(UnixDomainPrincipal peer) {
        if (peer.user().equals(root) || peer.user().equals(self) || peer.group().equals(group) || listedMember(peer.user().getName())) {
            return null;
        }
        return "user " + peer.user().getName() + " (group " + peer.group().getName() + ") is neither root, " + self.getName()
                + " nor in group " + group.getName();
    }

    /** True if {@code user} is in the member list of the socket's group in the group file. */
    private boolean listedMember(String user) {
        try (var lines = Files.lines(groupFile)) {
            return lines.map(l -> l.split(":", -1)).anyMatch(f -> f.length >= 4 && f[0].equals(group.getName())
                    && Arrays.asList(f[3].split(",")).contains(user));
        } catch (IOException | java.io.UncheckedIOException e) {
            return false;
        }
    }
}
