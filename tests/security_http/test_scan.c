/*
 * test_scan.c - the code scanner, the file-name rules and the trusted-proxy
 * client address (ingress/security/ing_sec.h, ingress/security/private/ing_clientip.h).
 */
#include "ci_test.h"
#include "ing_clientip.h"
#include "ing_sec.h"

static size_t scan(const char *code, char ***w)
{
    size_t n = 0;
    *w = NULL;
    ASSERT(ing_scan_code(code, strlen(code), w, &n) >= 0);
    return n;
}

static int has(char **w, size_t n, const char *needle)
{
    for (size_t i = 0; i < n; i++)
        if (strstr(w[i], needle))
            return 1;
    return 0;
}

static void release(char **w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(w[i]);
    free(w);
}

TEST(code_patterns)
{
    char **w;
    size_t n = scan("import json, subprocess as sp\nfrom os.path import join\n"
                    "x = eval (s); exec(c); __import__('pty')\n"
                    "f = open('a'); g = file('b')\nname = input(); raw_input()\n"
                    "require('child_process')\n",
                    &w);
    ASSERT(has(w, n, "import subprocess"));
    ASSERT(has(w, n, "import os"));
    ASSERT(has(w, n, "eval()"));
    ASSERT(has(w, n, "exec()"));
    ASSERT(has(w, n, "__import__()"));
    ASSERT(has(w, n, "open()"));
    ASSERT(has(w, n, "file()"));
    ASSERT(has(w, n, "input()"));
    ASSERT(has(w, n, "raw_input()"));
    ASSERT(has(w, n, "child_process"));
    ASSERT(!has(w, n, "import sys"));
    ASSERT_EQ(n, 10);
    release(w, n);
}

TEST(code_whole_words)
{
    char **w;
    size_t n = scan("import osmosis\nimport numpy as os_like\nreopen(x)\nmy_eval(1)\n"
                    "obj.open(1)\nprint('evaluate')\nfilename = 1\nimports = 2\n",
                    &w);
    ASSERT_EQ(n, 0);
    release(w, n);
    n = scan("", &w);
    ASSERT_EQ(n, 0);
    n = scan("x=1;import   sys", &w);
    ASSERT_EQ(n, 1);
    ASSERT(has(w, n, "import sys"));
    release(w, n);
}

TEST(filename_rules)
{
    const char *why = NULL;
    char long_name[300];
    memset(long_name, 'a', sizeof long_name);
    memcpy(long_name + 252, ".txt", 5); /* 256 bytes */
    ASSERT(ing_fname_ok("data.csv", NULL));
    ASSERT(ing_fname_ok("Report Final.PDF", NULL));
    ASSERT(ing_fname_ok("r\xc3\xa9sum\xc3\xa9.docx", NULL));
    ASSERT(!ing_fname_ok("../etc/passwd.txt", &why) && why);
    ASSERT(!ing_fname_ok("..\\win.txt", &why) && why);
    ASSERT(!ing_fname_ok("a\x01.txt", &why) && why);
    ASSERT(!ing_fname_ok(long_name, &why) && strstr(why, "255"));
    ASSERT(!ing_fname_ok("x;rm -rf.txt", &why) && why);
    ASSERT(!ing_fname_ok("a|b.txt", &why) && why);
    ASSERT(!ing_fname_ok("run.exe", &why) && strstr(why, "whitelist"));
    ASSERT(!ing_fname_ok("noext", &why) && why);
    ASSERT(!ing_fname_ok(".bashrc", &why) && why);
    ASSERT(!ing_fname_ok("x.exe", NULL));
    ASSERT(!ing_fname_ok("", NULL));
}

TEST(client_ip_forwarding)
{
    char out[64];
    ASSERT_EQ(ing_clientip_init("127.0.0.1/32, 10.0.0.0/8,::1"), 0);
    /* a trusted peer: the rightmost untrusted hop */
    ing_clientip_resolve("127.0.0.1", "198.51.100.1, 203.0.113.9, 10.1.2.3", out, sizeof out);
    ASSERT_STR_EQ(out, "203.0.113.9");
    ing_clientip_resolve("::1", "2001:db8::7", out, sizeof out);
    ASSERT_STR_EQ(out, "2001:db8::7");
    /* an untrusted peer: the header is ignored */
    ing_clientip_resolve("192.0.2.5", "198.51.100.1", out, sizeof out);
    ASSERT_STR_EQ(out, "192.0.2.5");
    /* garbage stops the walk at the last trusted hop */
    ing_clientip_resolve("127.0.0.1", "198.51.100.1, not-an-ip", out, sizeof out);
    ASSERT_STR_EQ(out, "127.0.0.1");
    ing_clientip_resolve("127.0.0.1", NULL, out, sizeof out);
    ASSERT_STR_EQ(out, "127.0.0.1");
    /* everything trusted: the leftmost hop */
    ing_clientip_resolve("127.0.0.1", "10.9.9.9", out, sizeof out);
    ASSERT_STR_EQ(out, "10.9.9.9");
    ASSERT(ing_clientip_init("10.0.0.0/33") < 0);
    ASSERT(!ing_clientip_trusted("10.0.0.1"));
}

TEST_MAIN(code_patterns, code_whole_words, filename_rules, client_ip_forwarding)
