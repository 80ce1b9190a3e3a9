/*
 * wk_wan.c - WAN mode: the Docker network, the sandboxes' resolv.conf and
 * the firewall's lifetime (see wk_wan.h).
 */
#include "wk_wan.h"

#include "ci_env.h"
#include "ci_log.h"
#include "wk_wan_rules.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ICC_OPT "com.docker.network.bridge.enable_icc"
#define BRIDGE_OPT "com.docker.network.bridge.name"

static struct {
    int enabled, active;
    char network[64];
    char dns_list[128]; /* normalized "a,b,c" */
    char resolv_path[512];
    struct wk_wan_rules rules;
    struct wk_docker *docker;
    void (*start_cb)(void *, int);
    void (*stop_cb)(void *);
    void *cb_arg;
    int created; /* a create was tried (a 404 afterwards is an error) */
} W;

static int name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

static int parse_dns(const char *list)
{
    const char *p = list;
    W.rules.ndns = 0;
    W.dns_list[0] = '\0';
    while (*p) {
        size_t n = strcspn(p, ", ");
        char item[INET_ADDRSTRLEN + 1];
        if (n > 0) {
            if (n >= sizeof item || W.rules.ndns == WK_WAN_MAX_DNS)
                return -EINVAL;
            memcpy(item, p, n);
            item[n] = '\0';
            if (inet_pton(AF_INET, item, &W.rules.dns[W.rules.ndns]) != 1)
                return -EINVAL;
            size_t used = strlen(W.dns_list);
            snprintf(W.dns_list + used, sizeof W.dns_list - used, "%s%s", used ? "," : "", item);
            W.rules.ndns++;
        }
        p += n;
        p += strspn(p, ", ");
    }
    return W.rules.ndns > 0 ? 0 : -EINVAL;
}

int wk_wan_configure(const char *run_dir)
{
    memset(&W, 0, sizeof W);
    W.enabled = ci_env_bool("ENABLE_WAN_ACCESS", 0);
    if (!W.enabled)
        return 0;
    const char *net = ci_env_str("WAN_NETWORK_NAME", "code-interpreter-wan");
    const char *chain = ci_env_str("WAN_CHAIN", "CI-WAN");
    const char *dns = ci_env_str("WAN_DNS_SERVERS", "8.8.8.8,1.1.1.1,8.8.4.4");
    if (!name_ok(net, sizeof W.network - 1)) {
        log_error("WAN_NETWORK_NAME must be 1-63 of [A-Za-z0-9_.-]");
        return -EINVAL;
    }
    if (!name_ok(chain, WK_WAN_CHAIN_MAX)) {
        log_error("WAN_CHAIN must be 1-%d of [A-Za-z0-9_.-]", WK_WAN_CHAIN_MAX);
        return -EINVAL;
    }
    if (parse_dns(dns) != 0) {
        log_error("WAN_DNS_SERVERS must be 1-%d IPv4 addresses, comma-separated", WK_WAN_MAX_DNS);
        return -EINVAL;
    }
    snprintf(W.network, sizeof W.network, "%s", net);
    snprintf(W.rules.chain, sizeof W.rules.chain, "%s", chain);
    snprintf(W.resolv_path, sizeof W.resolv_path, "%s/wan-resolv.conf", run_dir);
    return 1;
}

static int write_resolv(void)
{
    char tmp[600], text[256] = "";
    snprintf(tmp, sizeof tmp, "%s.%d", W.resolv_path, (int)getpid());
    for (int i = 0; i < W.rules.ndns; i++) {
        char a[INET_ADDRSTRLEN];
        size_t used = strlen(text);
        snprintf(text + used, sizeof text - used, "nameserver %s\n",
                 inet_ntop(AF_INET, &W.rules.dns[i], a, sizeof a));
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return -errno;
    size_t len = strlen(text);
    int rc = write(fd, text, len) == (ssize_t)len ? 0 : -EIO;
    if (fchmod(fd, 0644) != 0 || close(fd) != 0)
        rc = rc ? rc : -EIO;
    if (rc == 0 && rename(tmp, W.resolv_path) != 0)
        rc = -errno;
    if (rc != 0)
        unlink(tmp);
    return rc;
}

static void start_done(int status)
{
    if (status == 0)
        W.active = 1;
    W.start_cb(W.cb_arg, status);
}

static void on_inspect(void *arg, int status, const char *body, size_t len);

static int inspect(void)
{
    char path[128];
    snprintf(path, sizeof path, "/networks/%s", W.network);
    return wk_docker_request(W.docker, "GET", path, NULL, on_inspect, NULL);
}

static void on_create(void *arg, int status, const char *body, size_t len)
{
    if (status != 201 && status != 409) { /* 409: someone else created it */
        log_error("wan: cannot create network %s (%d): %.200s", W.network, status, body);
        start_done(status < 0 ? status : -EIO);
        return;
    }
    if (status == 201)
        log_info("wan: created network %s (bridge, icc off, ipv6 off)", W.network);
    int rc = inspect();
    if (rc != 0)
        start_done(rc);
}

static int create(void)
{
    json_t *req =
        json_pack("{s:s, s:b, s:s, s:b, s:b, s:{s:s}, s:{s:s}}", "Name", W.network,
                  "CheckDuplicate", 1, "Driver", "bridge", "EnableIPv6", 0, "Internal", 0,
                  "Options", ICC_OPT, "false", "Labels", "com.code-interpreter.managed", "true");
    char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!text)
        return -ENOMEM;
    W.created = 1;
    int rc = wk_docker_request(W.docker, "POST", "/networks/create", text, on_create, NULL);
    free(text);
    return rc;
}

/* Fills W.rules.bridge and gateway from an inspect document; refuses a
 * network that is not a bridge with ICC and IPv6 off. */
static int read_network(json_t *net)
{
    json_t *opts = json_object_get(net, "Options");
    const char *driver = json_string_value(json_object_get(net, "Driver"));
    const char *icc = json_string_value(json_object_get(opts, ICC_OPT));
    const char *br = json_string_value(json_object_get(opts, BRIDGE_OPT));
    const char *id = json_string_value(json_object_get(net, "Id"));
    json_t *cfg0 = json_array_get(json_object_get(json_object_get(net, "IPAM"), "Config"), 0);
    const char *gw = json_string_value(json_object_get(cfg0, "Gateway"));
    if (!driver || strcmp(driver, "bridge") || !icc || strcmp(icc, "false") ||
        json_is_true(json_object_get(net, "EnableIPv6"))) {
        log_error("wan: network %s exists but is not a bridge with ICC and IPv6 off; "
                  "remove it (docker network rm %s) and restart",
                  W.network, W.network);
        return -EINVAL;
    }
    if (!gw || inet_pton(AF_INET, gw, &W.rules.gateway) != 1 || !(br || (id && strlen(id) >= 12))) {
        log_error("wan: network %s has no IPv4 gateway or id", W.network);
        return -EINVAL;
    }
    if (br)
        snprintf(W.rules.bridge, sizeof W.rules.bridge, "%s", br);
    else
        snprintf(W.rules.bridge, sizeof W.rules.bridge, "br-%.12s", id);
    log_info("wan: network %s: bridge %s, gateway %s, subnet %s, dns %s", W.network, W.rules.bridge,
             gw, json_string_value(json_object_get(cfg0, "Subnet")), W.dns_list);
    return 0;
}

static void on_inspect(void *arg, int status, const char *body, size_t len)
{
    int rc;
    if (status == 404 && !W.created) {
        rc = create();
        if (rc != 0)
            start_done(rc);
        return;
    }
    if (status != 200) {
        log_error("wan: cannot inspect network %s (%d)", W.network, status);
        start_done(status < 0 ? status : -EIO);
        return;
    }
    json_t *net = json_loadb(body, len, 0, NULL);
    rc = net ? read_network(net) : -EPROTO;
    json_decref(net);
    if (rc == 0 && (rc = write_resolv()) != 0)
        log_error("wan: cannot write %s (%s)", W.resolv_path, strerror(-rc));
    if (rc == 0)
        rc = wk_wan_rules_install(&W.rules);
    start_done(rc);
}

int wk_wan_start(struct wk_docker *d, void (*cb)(void *arg, int status), void *arg)
{
    if (!W.enabled)
        return -EINVAL;
    W.docker = d;
    W.start_cb = cb;
    W.cb_arg = arg;
    return inspect();
}

static void setup_done(void *arg, int status)
{
    *(int *)arg = status;
}

int wk_wan_setup(uv_loop_t *loop, struct wk_docker *d, const char *run_dir)
{
    int rc = wk_wan_configure(run_dir);
    if (rc <= 0)
        return rc;
    int status = 1; /* 1 = still running */
    rc = wk_wan_start(d, setup_done, &status);
    if (rc != 0)
        return rc;
    while (status == 1)
        uv_run(loop, UV_RUN_ONCE);
    return status;
}

void wk_wan_apply(struct wk_sandbox_spec *spec)
{
    if (!W.active)
        return;
    spec->network = W.network;
    spec->dns_servers = W.dns_list;
    spec->resolv_conf = W.resolv_path;
}

static void on_stop_inspect(void *arg, int status, const char *body, size_t len)
{
    json_t *net = status == 200 ? json_loadb(body, len, 0, NULL) : NULL;
    size_t others = json_object_size(json_object_get(net, "Containers"));
    json_decref(net);
    if (others > 0) {
        log_warn("wan: %zu container(s) still on network %s: keeping the firewall chains", others,
                 W.network);
    } else {
        int rc = wk_wan_rules_remove(W.rules.chain);
        if (rc != 0)
            log_error("wan: cannot remove the firewall chains (%s)", strerror(-rc));
    }
    W.active = 0;
    W.stop_cb(W.cb_arg);
}

int wk_wan_stop(struct wk_docker *d, void (*cb)(void *arg), void *arg)
{
    if (!W.active)
        return -EALREADY;
    W.stop_cb = cb;
    W.cb_arg = arg;
    char path[128];
    snprintf(path, sizeof path, "/networks/%s", W.network);
    return wk_docker_request(d, "GET", path, NULL, on_stop_inspect, NULL);
}
