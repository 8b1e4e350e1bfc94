package io.aegisquartz.api;

/** What a check found, in the Nagios sense. The agent adds its own statuses for runs that failed. */
public enum Status {
    OK, WARNING, CRITICAL, UNKNOWN
}
