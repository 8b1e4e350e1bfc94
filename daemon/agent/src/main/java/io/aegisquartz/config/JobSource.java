package io.aegisquartz.config;

/** Which cron file a job came from. A broken user file never affects default jobs. */
public enum JobSource {
    DEFAULT("aegis_quartz.conf.default"),
    USER("aegis_quartz.conf.user");

    private final String fileName;

    JobSource(String fileName) {
        this.fileName = fileName;
    }

    /** The cron file's name inside the config directory. */
    public String fileName() {
        return fileName;
    }
}
