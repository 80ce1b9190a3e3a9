/*
 * test_webhook_unit.c - the webhook address guard (wk_webhook_guard.h) and
 * the Standard Webhooks signature (wk_webhook_body.h).  No network: the
 * guard is a pure classification of socket addresses.
 */
#include "ci_test.h"
#include "wk_webhook_body.h"
#include "wk_webhook_guard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

static int allowed(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        ASSERT_EQ(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        ASSERT_EQ(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
    }
    char why[128] = "";
    int ok = wk_guard_check((struct sockaddr *)&ss, why, sizeof why);
    ASSERT(ok || strstr(why, "not allowed") != NULL);
    return ok;
}

TEST(guard_ranges)
{
    ASSERT_EQ(wk_guard_init(""), 0);
    static const char *const refused[] = {"127.0.0.1",
                                          "127.1.2.3",
                                          "10.0.0.1",
                                          "172.16.5.4",
                                          "172.31.255.255",
                                          "192.168.1.1",
                                          "169.254.169.254",
                                          "169.254.0.1",
                                          "0.0.0.0",
                                          "100.64.0.1",
                                          "224.0.0.1",
                                          "239.255.255.250",
                                          "255.255.255.255",
                                          "::1",
                                          "::",
                                          "fe80::1",
                                          "fc00::1",
                                          "fd12:3456::1",
                                          "ff02::1",
                                          "::ffff:127.0.0.1",
                                          "::ffff:169.254.169.254",
                                          "64:ff9b::a00:1"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        ASSERT(!allowed(refused[i]));
    static const char *const public_[] = {"93.184.216.34", "172.32.0.1", "8.8.8.8",
                                          "2001:4860::8888", "::ffff:93.184.216.34"};
    for (size_t i = 0; i < sizeof public_ / sizeof public_[0]; i++)
        ASSERT(allowed(public_[i]));
}

TEST(guard_allow_list)
{
    ASSERT_EQ(wk_guard_init("127.0.0.1/32, 10.9.0.0/16,::1"), 0);
    ASSERT(allowed("127.0.0.1"));
    ASSERT(!allowed("127.0.0.2"));
    ASSERT(allowed("10.9.200.1"));
    ASSERT(!allowed("10.8.0.1"));
    ASSERT(allowed("::1"));
    ASSERT(!allowed("169.254.169.254"));
    ASSERT(wk_guard_init("10.0.0.0/33") < 0);
    ASSERT(wk_guard_init("not-an-address") < 0);
    ASSERT(wk_guard_init("10.0.0.0/") < 0);
}

/* Feeds `ip` to the open-socket callback as curl would; closes a socket. */
static void open_one(struct wk_guard_note *note, const char *ip)
{
    /* curl passes its own larger storage: addr has room for an IPv6 address */
    union {
        struct curl_sockaddr ca;
        char room[sizeof(struct curl_sockaddr) + sizeof(struct sockaddr_in6)];
    } u;
    memset(&u, 0, sizeof u);
    struct curl_sockaddr *ap = &u.ca;
    ap->socktype = SOCK_STREAM;
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)&ap->addr;
        ap->family = AF_INET6;
        s6->sin6_family = AF_INET6;
        ASSERT_EQ(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)&ap->addr;
        ap->family = AF_INET;
        s4->sin_family = AF_INET;
        ASSERT_EQ(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
    }
    curl_socket_t fd = wk_guard_opensocket(note, CURLSOCKTYPE_IPCXN, ap);
    if (fd != CURL_SOCKET_BAD)
        close(fd);
}

/* One attempt's verdict: refused only when no address was allowed. */
TEST(guard_verdict_per_address)
{
    ASSERT_EQ(wk_guard_init("127.0.0.1/32"), 0);
    struct wk_guard_note both = {0}, none = {0}, fine = {0};
    open_one(&both, "::1"); /* dual stack: the refused one first */
    open_one(&both, "127.0.0.1");
    ASSERT_EQ(both.refused, 1);
    ASSERT_EQ(both.allowed, 1);
    ASSERT(!wk_guard_refused(&both));
    open_one(&none, "::1");
    open_one(&none, "10.0.0.1");
    ASSERT(wk_guard_refused(&none));
    ASSERT(strstr(none.why, "10.0.0.1") != NULL);
    open_one(&fine, "127.0.0.1");
    ASSERT(!wk_guard_refused(&fine));
}

TEST(sign_vector)
{
    /* The published Standard Webhooks example. */
    char sig[128];
    const char *body = "{\"test\": 2432232314}";
    ASSERT_EQ(wk_webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                              "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body), sig,
                              sizeof sig),
              0);
    ASSERT_STR_EQ(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    ASSERT_EQ(wk_webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                              "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, body, strlen(body), sig,
                              sizeof sig),
              0);
    ASSERT(strcmp(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=") != 0);
    ASSERT(wk_webhook_sign("", "id", 1, body, strlen(body), sig, sizeof sig) < 0);
    ASSERT(wk_webhook_sign("whsec_!!!", "id", 1, body, strlen(body), sig, sizeof sig) < 0);
}

TEST_MAIN(guard_ranges, guard_allow_list, guard_verdict_per_address, sign_vector)
