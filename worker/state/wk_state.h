/*
 * wk_state.h - process-level hooks of the state module (the per-job steps
 * are in wk_stage.h; the design in docs/state.md).
 *
 * Loop thread only.
 */
#ifndef WK_STATE_H
#define WK_STATE_H

/* Stops the archive sweep and closes the module's Redis connection (after
 * its pending replies) so the loop can end; threadpool work in flight
 * finishes first.  Safe when the module never started. */
void wk_state_shutdown(void);

#endif
