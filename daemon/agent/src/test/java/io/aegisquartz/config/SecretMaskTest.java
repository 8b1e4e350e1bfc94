package io.aegisquartz.config;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Arguments that look like secrets are masked before a command line is shown. */
class SecretMaskTest {

    @Test
    void urlPasswordsAreMaskedAnywhereInAnArgument() {
        assertEquals(List.of("--url=https://admin:***@db.example/", "x=mysql://u:***@h:3306/db;y"),
                SecretMask.mask(List.of("--url=https://admin:hunter2@db.example/", "x=mysql://u:pw@h:3306/db;y")));
    }

    @Test
    void secretQueryParametersOfAUrlAreMaskedAndTheRestKept() {
        assertEquals(List.of("https://h/health?token=***&verbose=1", "http://h/x?a=1&api_key=***#top", "https://h/?page=2"),
                SecretMask.mask(List.of("https://h/health?token=t0k&verbose=1", "http://h/x?a=1&api_key=k1#top", "https://h/?page=2")));
    }

    @Test
    void freeTextKeepsNoCredentialOrQueryValueOfAnyUrlInIt() {
        String text = "Connect to https://admin:hunter2@influx.example:8086/write?db=aegis&u=aegis&p=s3cr3t failed; "
                + "proxy said: see http://TOKEN-abc@hooks.example/send?key=robot-key#x, retry later";
        String masked = SecretMask.maskText(text);
        assertEquals("Connect to https://admin:***@influx.example:8086/write?db=***&u=***&p=*** failed; "
                + "proxy said: see http://***@hooks.example/send?key=***#x, retry later", masked);
        assertEquals("ConnectException: Connection refused", SecretMask.maskText("ConnectException: Connection refused"));
        // Linear: a long run without a URL, or one long URL, is masked at once.
        String big = "a".repeat(200_000) + "://x@h/?k=" + "v".repeat(200_000);
        assertEquals("a".repeat(200_000) + "://***@h/?k=***", SecretMask.maskText(big));
    }

    @Test
    void valueAfterSecretOptionIsMasked() {
        assertEquals(List.of("--password", "***", "--verbose"), SecretMask.mask(List.of("--password", "x", "--verbose")));
    }

    @Test
    void secretOptionNamesAreMatchedInsideLongerNames() {
        assertEquals(List.of("--db-passwd", "***", "-api_key", "***", "--auth-header", "***"),
                SecretMask.mask(List.of("--db-passwd", "hunter2", "-api_key", "k1", "--auth-header", "Bearer x")));
    }

    @Test
    void onlyTheNextArgumentIsMasked() {
        assertEquals(List.of("--token", "***", "/data", "--warn", "80"),
                SecretMask.mask(List.of("--token", "abc", "/data", "--warn", "80")));
    }

    @Test
    void secretOptionAsLastArgumentIsKept() {
        assertEquals(List.of("-v", "--password"), SecretMask.mask(List.of("-v", "--password")));
    }

    @Test
    void assignedSecretIsMasked() {
        assertEquals(List.of("--token=***"), SecretMask.mask(List.of("--token=x")));
        assertEquals(List.of("--Secret-File=***", "PASSWORD=***"), SecretMask.mask(List.of("--Secret-File=/etc/s", "PASSWORD=a=b")));
    }

    @Test
    void assignmentWithEmptyValueIsKept() {
        assertEquals(List.of("--token=", "next"), SecretMask.mask(List.of("--token=", "next")));
    }

    @Test
    void passwordInUrlIsMasked() {
        assertEquals(List.of("https://user:***@host/path?q=1"), SecretMask.mask(List.of("https://user:pass@host/path?q=1")));
        assertEquals(List.of("mysql://root:***@127.0.0.1:3306"), SecretMask.mask(List.of("mysql://root:s3cr3t@127.0.0.1:3306")));
    }

    @Test
    void urlWithoutPasswordIsKept() {
        assertEquals(List.of("https://host:8443/x", "https://user@host/x"),
                SecretMask.mask(List.of("https://host:8443/x", "https://user@host/x")));
    }

    @Test
    void ordinaryArgumentsAreKept() {
        assertEquals(List.of("-w", "20%", "-c", "10%", "-p", "/", "--host", "db1"),
                SecretMask.mask(List.of("-w", "20%", "-c", "10%", "-p", "/", "--host", "db1")));
    }

    @Test
    void inputIsNotModified() {
        List<String> args = new java.util.ArrayList<>(List.of("--password", "x"));
        SecretMask.mask(args);
        assertEquals(List.of("--password", "x"), args);
    }

    @Test
    void longArgumentsAreMaskedInTimeLinearInTheirLength() {
        // A cron line may hold arguments of 100 KB; the old patterns backtracked over them for minutes.
        String run = "a".repeat(100_000);
        List<String> args = List.of(run, "--" + run, run + "=x", "pass" + run + "=x", "https://" + run, "https://x/?" + run + "=1",
                "https://u:" + run, "x" + "&a".repeat(50_000));
        List<String> masked = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(30),
                () -> SecretMask.mask(args));
        assertEquals(args.size(), masked.size());
        assertEquals("pass" + run + "=***", masked.get(3));
        assertEquals(args.get(4), masked.get(4), "nothing secret in it: kept");
    }
}
