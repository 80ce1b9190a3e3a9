/*
 * wk_sandbox_config.c - spec defaults and the Docker create body of a
 * sandbox container.  The layers are described in docs/sandbox.md; every
 * field below is one of them.
 */
#include "wk_sandbox.h"

#include "ci_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wk_sandbox_spec_init(struct wk_sandbox_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->memory_mb = ci_env_int("MAX_MEMORY_MB", 512, 16, 1 << 20);
    spec->pids_limit = ci_env_int("MAX_PIDS", 128, 8, 1 << 20);
    spec->nano_cpus = ci_env_int("SANDBOX_NANO_CPUS", 1000000000, 0, INT64_C(1) << 40);
    spec->hostname = ci_env_str("CONTAINER_GENERIC_HOSTNAME", "sandbox");
    spec->run_root = ci_env_str("RUN_DIR", "/var/lib/code-interpreter/run");
    spec->data_root = ci_env_str("DATA_DIR", "/var/lib/code-interpreter/data");
    spec->uid = 1000;
    spec->gid = 1000;
    spec->start_timeout_ms = 15000;
    spec->nofile = ci_env_int("MAX_OPEN_FILES", 1024, 16, 1 << 20);
    spec->tmp_mb = ci_env_int("SANDBOX_TMP_MB", 64, 1, 1 << 16);
    spec->mask_host_info = ci_env_bool("CONTAINER_MASK_HOST_INFO", 1);
    spec->seccomp = wk_sandbox_seccomp_profile();
    spec->disk_mb = ci_env_int("SANDBOX_DISK_MB", 512, 0, 1 << 20);
    spec->disk_inodes = ci_env_int("SANDBOX_DISK_INODES", spec->disk_mb * 128, 1024, 1 << 30);
    spec->work_mb = ci_env_int("SANDBOX_WORK_MB", 256, 16, 1 << 16);
}

static json_t *labels(const struct wk_sandbox_spec *spec)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "com.code-interpreter.managed", "true",
                     "com.code-interpreter.session", spec->session_id ? spec->session_id : "",
                     "com.code-interpreter.language", spec->lang ? spec->lang : "",
                     "com.code-interpreter.wan-access", spec->network ? "true" : "false",
                     /* the worker's start-up reap finds its own (wk_pool_reap.c) */
                     "com.code-interpreter.worker", ci_env_str("WORKER_ID", ""));
}

/* "a,b , c" -> ["a","b","c"] (empty items skipped). */
static json_t *split_list(const char *list)
{
    json_t *arr = json_array();
    const char *p = list ? list : "";
    while (*p) {
        size_t n = strcspn(p, ", ");
        if (n > 0 && n < 64) {
            char item[64];
            memcpy(item, p, n);
            item[n] = '\0';
            json_array_append_new(arr, json_string(item));
        }
        p += n;
        p += strspn(p, ", ");
    }
    return arr;
}

/* Resolver settings.  With network: the configured servers only.  Without:
 * masking hides the host's resolver (Docker would copy it) behind a dead
 * loopback entry.  DnsSearch ["."] is Docker's spelling of "no search list"
 * (an empty list would inherit the host's). */
static void set_dns(json_t *hc, const struct wk_sandbox_spec *spec)
{
    if (spec->network)
        json_object_set_new(hc, "Dns", split_list(spec->dns_servers));
    else if (spec->mask_host_info)
        json_object_set_new(hc, "Dns", json_pack("[s]", "127.0.0.1"));
    if (spec->network || spec->mask_host_info) {
        json_object_set_new(hc, "DnsSearch", json_pack("[s]", "."));
        json_object_set_new(hc, "DnsOptions", json_array());
    }
}

static json_t *binds(const struct wk_sandbox_spec *spec, const char *run_dir, const char *data_dir)
{
    char b[4200];
    json_t *arr = json_array();
    snprintf(b, sizeof b, "%s:/run/ci:rw", run_dir);
    json_array_append_new(arr, json_string(b));
    snprintf(b, sizeof b, "%s:/mnt/data:rw", data_dir);
    json_array_append_new(arr, json_string(b));
    if (spec->resolv_conf) {
        snprintf(b, sizeof b, "%s:/etc/resolv.conf:ro", spec->resolv_conf);
        json_array_append_new(arr, json_string(b));
    }
    return arr;
}

/* no-new-privileges, and the project's seccomp profile inline when loaded
 * (Docker's default otherwise; never "unconfined"). */
static json_t *security_opts(const struct wk_sandbox_spec *spec)
{
    json_t *arr = json_pack("[s]", "no-new-privileges");
    if (spec->seccomp) {
        size_t n = strlen(spec->seccomp) + sizeof "seccomp=";
        char *opt = malloc(n);
        if (!opt) {
            json_decref(arr);
            return NULL;
        }
        snprintf(opt, n, "seccomp=%s", spec->seccomp);
        json_array_append_new(arr, json_string(opt));
        free(opt);
    }
    return arr;
}

/* Docker's own masked paths (what it sets when the create body names none:
 * giving MaskedPaths replaces them), then ours: host facts a program has no
 * use for.  Each is covered by /dev/null (files) or an empty read-only
 * tmpfs (directories).  What stays visible and why: docs/sandbox.md. */
static const char *const k_masked[] = {
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
    /* ours */
    "/proc/sys/kernel/random/boot_id", /* names this boot of the host */
    "/proc/modules", "/proc/kallsyms", /* the host kernel's modules and symbols */
    "/proc/diskstats", "/proc/partitions", "/proc/swaps",                 /* host disks */
    "/proc/interrupts", "/proc/softirqs", "/proc/iomem", "/proc/ioports", /* host hardware */
    "/proc/buddyinfo", "/proc/zoneinfo", "/proc/pagetypeinfo", "/proc/vmallocinfo",
    "/proc/slabinfo", "/sys/kernel/debug", "/sys/devices/virtual/dmi"};

static json_t *masked_paths(void)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < sizeof k_masked / sizeof *k_masked; i++)
        json_array_append_new(arr, json_string(k_masked[i]));
    return arr;
}

/* The runner's capabilities (docs/sandbox.md, "Identity"). */
static json_t *runner_caps(void)
{
    return json_pack("[s,s,s,s,s,s,s]", "CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP", "CAP_KILL",
                     "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER");
}

static json_t *host_config(const struct wk_sandbox_spec *spec, const char *run_dir,
                           const char *data_dir)
{
    /* Every writable place has a byte and an inode bound (docs/sandbox.md,
     * "Disk"): /tmp and /dev/shm noexec; /run/ci/work (HOME, build dirs:
     * compiled programs run from there) exec.  tmpfs pages are charged to
     * the container's memory cgroup. */
    char tmpfs[128], shm[128], work[128];
    snprintf(tmpfs, sizeof tmpfs, "rw,noexec,nosuid,nodev,size=%lldm,nr_inodes=%lld",
             (long long)spec->tmp_mb, (long long)spec->tmp_mb * 256);
    snprintf(shm, sizeof shm, "rw,noexec,nosuid,nodev,size=64m,nr_inodes=4096,mode=1777");
    snprintf(work, sizeof work, "rw,exec,nosuid,nodev,size=%lldm,nr_inodes=%lld,mode=755",
             (long long)spec->work_mb, (long long)spec->work_mb * 256);
    json_int_t nofile = spec->nofile > 0 ? spec->nofile : 1024;
    /* RLIMIT_FSIZE: no file bigger than the disk (bytes), for the runner
     * and every program: also bounds the state file a program writes. */
    json_int_t fsize = (json_int_t)(spec->disk_mb > 0 ? spec->disk_mb : 512) << 20;
    /* CapDrop ALL, then only what the runner (container root) needs to
     * hand programs the sandbox uid with an empty bounding set (SETUID,
     * SETGID, SETPCAP) and to clean up after them (KILL, CHOWN,
     * DAC_OVERRIDE, FOWNER).  Programs drop every one (bounding set emptied,
     * setresuid to spec->uid, no_new_privs).  SecurityOpt keeps Docker's
     * default seccomp profile (it is applied unless "seccomp=unconfined"
     * is given). */
    json_t *hc =
        json_pack("{s:o, s:s, s:[s], s:o, s:o, s:b, s:{s:s, s:s, s:s}, "
                  "s:[{s:s, s:I, s:I}, {s:s, s:I, s:I}], s:b}",
                  "Binds", binds(spec, run_dir, data_dir), "NetworkMode",
                  spec->network ? spec->network : "none", "CapDrop", "ALL", "CapAdd", runner_caps(),
                  "SecurityOpt", security_opts(spec), "ReadonlyRootfs", 1, "Tmpfs", "/tmp", tmpfs,
                  "/dev/shm", shm, "/run/ci/work", work, "Ulimits", "Name", "nofile", "Soft",
                  nofile, "Hard", nofile, "Name", "fsize", "Soft", fsize, "Hard", fsize, "Init", 0);
    if (!hc)
        return NULL;
    set_dns(hc, spec);
    if (spec->mask_host_info)
        json_object_set_new(hc, "MaskedPaths", masked_paths());
    if (spec->network) /* IPv4 only: no link-local IPv6 path around the rules */
        json_object_set_new(hc, "Sysctls",
                            json_pack("{s:s, s:s}", "net.ipv6.conf.all.disable_ipv6", "1",
                                      "net.ipv6.conf.default.disable_ipv6", "1"));
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
    char env_uid[48], env_gid[48];
    snprintf(env_uid, sizeof env_uid, "CI_SANDBOX_UID=%u", (unsigned)spec->uid);
    snprintf(env_gid, sizeof env_gid, "CI_SANDBOX_GID=%u", (unsigned)spec->gid);
    if (!spec->image)
        return NULL;
    /* No Cmd/Entrypoint: the image's CMD starts the runner, as container
     * root (User "0:0"); it runs every program as spec->uid:spec->gid. */
    json_t *cfg =
        json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:b, s:[s,s], s:o, s:o}", "Image",
                  spec->image, "User", "0:0", "WorkingDir", "/mnt/data", "Domainname", "",
                  "NetworkDisabled", spec->network ? 0 : 1, "Tty", 0, "OpenStdin", 0,
                  "AttachStdout", 0, "AttachStderr", 0, "Env", env_uid, env_gid, "Labels",
                  labels(spec), "HostConfig", host_config(spec, run_dir, data_dir));
    /* Unmasked, Docker names the host after the container id. */
    if (cfg && spec->mask_host_info)
        json_object_set_new(
            cfg, "Hostname",
            json_string(spec->hostname && *spec->hostname ? spec->hostname : "sandbox"));
    return cfg;
}
