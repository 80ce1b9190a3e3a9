/*
 * test_access.c - the ownership rule of storage sessions (st_access.h):
 * two tenants x two users x the anonymous user x every kind.
 */
#include "ci_test.h"
#include "st_access.h"

TEST(private_sessions_are_one_owner_and_user)
{
    ASSERT_EQ(st_access_read("T1", "A", "", "T1", "A"), ST_ACCESS_OK);
    ASSERT_EQ(st_access_read("T1", "A", "user", "T1", "A"), ST_ACCESS_OK);
    ASSERT_EQ(st_access_read("T1", "A", "", "T1", "B"), ST_ACCESS_DENIED);
    ASSERT_EQ(st_access_read("T1", "A", "user", "T2", "A"), ST_ACCESS_DENIED);
    /* no user is the anonymous user, never a wildcard, in both directions */
    ASSERT_EQ(st_access_read("T1", "A", "", "T1", NULL), ST_ACCESS_DENIED);
    ASSERT_EQ(st_access_read("T1", "A", "", "T1", ""), ST_ACCESS_DENIED);
    ASSERT_EQ(st_access_read("T1", "", "", "T1", "A"), ST_ACCESS_DENIED);
    ASSERT_EQ(st_access_read("T1", "", "", "T1", NULL), ST_ACCESS_OK);
    ASSERT_EQ(st_access_read("T1", NULL, NULL, "T1", ""), ST_ACCESS_OK);
    ASSERT_EQ(st_access_write("T1", "A", "user", "T1", "A"), ST_ACCESS_OK);
    ASSERT_EQ(st_access_write("T1", "A", "user", "T1", "B"), ST_ACCESS_DENIED);
}

TEST(shared_kinds_stay_inside_the_tenant)
{
    ASSERT_EQ(st_access_read("T1", "", "agent", "T1", "A"), ST_ACCESS_OK);
    ASSERT_EQ(st_access_read("T1", "", "agent", "T1", "B"), ST_ACCESS_OK);
    ASSERT_EQ(st_access_read("T1", "", "agent", "T1", NULL), ST_ACCESS_OK);
    ASSERT_EQ(st_access_read("T1", "", "agent", "T2", "A"), ST_ACCESS_DENIED);
    ASSERT_EQ(st_access_read("T1", "", "skill", "T1", "B"), ST_ACCESS_OK);
    ASSERT_EQ(st_access_read("T1", "", "skill", "T2", "B"), ST_ACCESS_DENIED);
    ASSERT_EQ(st_access_write("T1", "", "agent", "T1", "B"), ST_ACCESS_OK);
    ASSERT_EQ(st_access_write("T1", "", "skill", "T1", "B"), ST_ACCESS_READONLY);
    ASSERT_EQ(st_access_write("T1", "", "skill", "T2", "B"), ST_ACCESS_DENIED);
    ASSERT(st_access_shared_kind("agent"));
    ASSERT(st_access_shared_kind("skill"));
    ASSERT(!st_access_shared_kind("user"));
    ASSERT(!st_access_shared_kind(NULL));
}

TEST(missing_or_unknown_records_are_nobodys)
{
    ASSERT_EQ(st_access_read("", "", "", "", ""), ST_ACCESS_DENIED);
    ASSERT_EQ(st_access_read(NULL, NULL, NULL, NULL, NULL), ST_ACCESS_DENIED);
    ASSERT_EQ(st_access_read("T1", "A", "tenant", "T1", "A"), ST_ACCESS_DENIED);
    ASSERT_EQ(st_access_read("T1", "A", "", "T1x", "A"), ST_ACCESS_DENIED);
}

TEST_MAIN(private_sessions_are_one_owner_and_user, shared_kinds_stay_inside_the_tenant,
          missing_or_unknown_records_are_nobodys)
