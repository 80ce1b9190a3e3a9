#include "ing_redis.h"

static _Thread_local int active;
static _Thread_local int pending;

void ing_pipe_begin(void)
{
    active = 1;
    pending = 0;
}

int ing_pipe_active(void)
{
    return active;
}

void ing_pipe_add(int n)
{
    pending += n;
}

int ing_pipe_end(void)
{
    int n = pending;
    active = 0;
    pending = 0;
    return n;
}
