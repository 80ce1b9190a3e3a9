/*
 * wk_sandbox_config.c - spec defaults and the Docker create body of a
 * sandbox container.
 */
#include "wk_sandbox.h"

#include "ci_env.h"

#include <stdio.h>
#include <string.h>

void wk_sandbox_spec_init(struct wk_sandbox_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->memory_mb = ci_env_int("MAX_MEMORY_MB", 512, 16, 1 << 20);
    spec->pids_limit = ci_env_int("MAX_PIDS", 256, 8, 1 << 20);
    spec->nano_cpus = ci_env_int("SANDBOX_NANO_CPUS", 1000000000, 0, INT64_C(1) << 40);
    spec->hostname = "sandbox";
    spec->run_root = ci_env_str("RUN_DIR", "/var/lib/code-interpreter/run");
    spec->data_root = ci_env_str("DATA_DIR", "/var/lib/code-interpreter/data");
    spec->uid = 1000;
    spec->gid = 1000;
    spec->start_timeout_ms = 15000;
}

static json_t *labels(const struct wk_sandbox_spec *spec)
{
    return json_pack("{s:s, s:s, s:s, s:s}", "com.code-interpreter.managed", "true",
                     "com.code-interpreter.session", spec->session_id ? spec->session_id : "",
                     "com.code-interpreter.language", spec->lang ? spec->lang : "",
                     "com.code-interpreter.wan-access", spec->network ? "true" : "false");
}

static json_t *host_config(const struct wk_sandbox_spec *spec, const char *run_dir,
                           const char *data_dir)
{
    char bind_run[4200], bind_data[4200];
    snprintf(bind_run, sizeof bind_run, "%s:/run/ci:rw", run_dir);
    snprintf(bind_data, sizeof bind_data, "%s:/mnt/data:rw", data_dir);

    json_t *hc = json_pack(
        "{s:[s,s], s:s, s:[s], s:[s], s:b, s:{s:s}, s:[{s:s, s:i, s:i}], s:[], s:b}", "Binds",
        bind_run, bind_data, "NetworkMode", spec->network ? spec->network : "none", "CapDrop",
        "ALL", "SecurityOpt", "no-new-privileges", "ReadonlyRootfs", 1, "Tmpfs", "/tmp",
        "rw,noexec,nosuid,size=64m", "Ulimits", "Name", "nofile", "Soft", 1024, "Hard", 1024,
        "DnsSearch", "Init", 0);
    if (!hc)
        return NULL;
    if (spec->memory_mb > 0) {
        json_int_t bytes = (json_int_t)spec->memory_mb * 1024 * 1024;
        json_object_set_new(hc, "Memory", json_integer(bytes));
        json_object_set_new(hc, "MemorySwap", json_integer(bytes)); /* equal: no swap */
    }
    if (spec->pids_limit > 0)
        json_object_set_new(hc, "PidsLimit", json_integer(spec->pids_limit));
    if (spec->nano_cpus > 0)
        json_object_set_new(hc, "NanoCpus", json_integer(spec->nano_cpus));
    return hc;
}

json_t *wk_sandbox_container_config(const struct wk_sandbox_spec *spec, const char *run_dir,
                                    const char *data_dir)
{
    char user[64];
    snprintf(user, sizeof user, "%u:%u", (unsigned)spec->uid, (unsigned)spec->gid);
    if (!spec->image)
        return NULL;
    /* No Cmd/Entrypoint: the image's CMD starts the runner. */
    json_t *cfg = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:b, s:o, s:o}", "Image",
                            spec->image, "User", user, "WorkingDir", "/mnt/data", "Hostname",
                            spec->hostname ? spec->hostname : "sandbox", "Domainname", "",
                            "NetworkDisabled", spec->network ? 0 : 1, "Tty", 0, "OpenStdin", 0,
                            "AttachStdout", 0, "AttachStderr", 0, "Labels", labels(spec),
                            "HostConfig", host_config(spec, run_dir, data_dir));
    return cfg;
}
