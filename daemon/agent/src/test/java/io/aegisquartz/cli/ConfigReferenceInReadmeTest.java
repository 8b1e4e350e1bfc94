package io.aegisquartz.cli;

import io.aegisquartz.config.Setting;
import io.aegisquartz.config.Settings;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** README.md carries the configuration reference that 'aegis-quartz config-reference' prints; they must not drift. */
class ConfigReferenceInReadmeTest {

    private static final Path README = Path.of(System.getProperty("user.dir")).resolve("../../README.md").normalize();

    private static String readme() throws IOException {
        assertTrue(Files.isRegularFile(README), "README.md not found at " + README);
        return Files.readString(README, StandardCharsets.UTF_8).replace("\r\n", "\n");
    }

    @Test
    void tableHasOneRowPerSettingInReferenceOrder() {
        String[] rows = ConfigReferenceCommand.table().split("\n");
        assertEquals(Settings.ALL.size() + 2, rows.length);
        assertEquals("| Key | Default | Allowed | Meaning |", rows[0]);
        assertEquals("|---|---|---|---|", rows[1]);
        assertEquals("| `[agent] workers` | `4` | 1 to 64 | Jobs that may run at the same time. "
                + "A slow job holds one worker, never more, so others keep their schedule. |", rows[3]);
        assertEquals("| `[agent] hostname` | (empty) | text | Host name put in every sample; empty means the kernel's "
                + "(/proc/sys/kernel/hostname), read at each run. |", rows[2]);
        for (int i = 0; i < Settings.ALL.size(); i++) {
            Setting s = Settings.ALL.get(i);
            assertTrue(rows[i + 2].startsWith("| `[" + s.section() + "] " + s.key() + "` | "), rows[i + 2]);
        }
    }

    @Test
    void everySettingHasItsRowInTheReadme() throws IOException {
        String readme = readme();
        List<String> rows = List.of(ConfigReferenceCommand.table().split("\n"));
        List<String> missing = rows.stream().filter(r -> !readme.contains(r + "\n")).toList();
        assertEquals(List.of(), missing, "rows of 'aegis-quartz config-reference' missing from or different in " + README);
    }

    @Test
    void readmeContainsTheWholeTableVerbatim() throws IOException {
        assertTrue(readme().contains(ConfigReferenceCommand.table()),
                "README.md must contain the exact output of 'aegis-quartz config-reference'; regenerate it");
    }
}
